import { type Clock, sleep } from "../core/clock.js";
import { assertInteger, describeValue } from "../core/validate.js";
import { MemorySagaLog } from "../log/memory-log.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { TERMINAL_STATUSES } from "../model/records.js";
import { type FaultEvent, FaultInjector } from "./fault-injector.js";
import type { FaultPlan } from "./fault-plan.js";
import { checkInvariants, type InvariantViolation, loadSagas } from "./invariant.js";
import {
  type AnySaga,
  checkScenario,
  checkWorld,
  inputFor,
  type Scenario,
  type ScenarioWorld,
  sagaIdFor,
  scheduleClock,
} from "./scenario.js";
import { deriveSeed, seededRandom } from "./seeded-random.js";
import type { CallGate } from "./seeded-scheduler.js";
import {
  DEFAULT_LEASE_TTL_MS,
  durableSnapshot,
  expireLeases,
  invariantsOf,
  type SimulatedProcess,
  startProcess,
} from "./simulated-process.js";
import type { TaskScheduler } from "./virtual-clock.js";

/** How one schedule runs: concurrent runs and recoverers under faults, then recovery to an end. */
export interface ScheduleOptions<World extends ScenarioWorld, S extends AnySaga>
  extends Scenario<World, S> {
  /**
   * How many runs of the saga start at once, each with `input(world, i)` and its own saga id.
   * @default 1
   */
  readonly runs?: number;
  /**
   * How many recoverers race the runs while they are live, each making `racePasses` passes a lease
   * apart, so a run slowed past its lease is taken over mid-flight.
   * @default 1
   */
  readonly racers?: number;
  /**
   * How many passes each racing recoverer makes.
   * @default 2
   */
  readonly racePasses?: number;
  /**
   * Other writers racing the runs: each starts with them, in a simulated process of its own, and
   * gets the world with its stores wrapped like the runs' (faults, crash, scheduling) and the
   * process's clock.
   * @default []
   * @example [async (world, { clock }) => { await sleep(clock, 50); await captureHold(world); }]
   */
  readonly actors?: readonly ScheduleActor<World>[];
  /**
   * Recovery passes after the runs while faults still fire, each by a fresh process.
   * @default 1
   */
  readonly faultyRecoveries?: number;
  /**
   * The most passes, with faults off, allowed to bring every saga to an end; needing more is a
   * violation ("recovery converges").
   * @default 5
   */
  readonly settlePasses?: number;
  /**
   * How long (in virtual milliseconds) the runs, and each recovery pass under faults, may take
   * before their processes are treated as hung and abandoned, as an operator would kill them.
   * @default 50 leases
   */
  readonly phaseLimitMs?: number;
}

/** Another writer in a schedule; see {@link ScheduleOptions.actors}. */
export type ScheduleActor<World> = (
  world: World,
  context: { readonly clock: Clock; readonly index: number },
) => unknown;

/** What one schedule came to. */
export interface ScheduleResult {
  /** The invariants that did not hold once recovery settled. */
  readonly violations: readonly InvariantViolation[];
  /** The status of every saga in the log at the end, by saga id order. */
  readonly statuses: readonly string[];
  /** Every fault that fired, in order. */
  readonly faults: readonly FaultEvent[];
  /** How many simulated processes died (a crash fault) or were abandoned stuck. */
  readonly abandoned: number;
  /**
   * Whether some invariant judged the stores (declared `reads: "stores"`, or read `world`). When
   * not, the schedule showed nothing about what the sagas left in them.
   */
  readonly storesChecked: boolean;
  /** The names of the world's stores. */
  readonly stores: readonly string[];
  /**
   * How many times the schedule went on while calls to real stores were still in flight, after
   * `ioStallMs` of real time (with `realIo`); when 0, timing had no part in its outcome.
   */
  readonly ioStalls: number;
}

/** Validates schedule options; throws a definition error naming the bad one. */
export function checkScheduleOptions(
  options: ScheduleOptions<ScenarioWorld, AnySaga>,
  tool: string,
): void {
  checkScenario(options, tool);
  if (
    options.actors !== undefined &&
    (!Array.isArray(options.actors) || options.actors.some((a) => typeof a !== "function"))
  ) {
    throw new LockstepDefinitionError(
      `Expected \`actors\` of ${tool} to be a list of functions, got ${describeValue(options.actors)}.`,
    );
  }
  for (const key of ["runs", "racePasses", "settlePasses", "phaseLimitMs"] as const) {
    if (options[key] !== undefined) assertInteger(`${tool}: ${key}`, options[key], 1);
  }
  for (const key of ["racers", "faultyRecoveries"] as const) {
    if (options[key] !== undefined) assertInteger(`${tool}: ${key}`, options[key], 0);
  }
}

/**
 * Runs one schedule: `runs` concurrent runs and `racers` racing recoverers under the faults of
 * `plan` (and the interleaving of `scheduler`, when given), then `faultyRecoveries` passes with
 * faults on, then passes with faults off until every saga ended, one more pass to show it changes
 * nothing, and the invariants.
 */
export async function runSchedule<World extends ScenarioWorld>(
  options: ScheduleOptions<World, AnySaga>,
  plan: FaultPlan,
  seed: number,
  scheduler?: TaskScheduler & CallGate,
): Promise<ScheduleResult> {
  const world = await options.setup();
  checkWorld(world, "the simulation");
  const log = world.log ?? new MemorySagaLog();
  const clock = scheduleClock(options);
  const injector = new FaultInjector(plan);
  const leaseTtlMs = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  const live: SimulatedProcess<World>[] = [];
  let abandoned = 0;
  const start = (owner: string, gate: CallGate | undefined) => {
    const process = startProcess(options, {
      world,
      log,
      clock,
      injector,
      owner,
      random: seededRandom(deriveSeed(seed, owner)),
      gate,
    });
    live.push(process);
    return process;
  };
  // A process is over once its phase is: anything it left in flight can no longer write, and a
  // real call it already sent answers before the next phase looks.
  const endProcesses = async (stuck: boolean) => {
    for (const p of live.splice(0)) {
      if (stuck || p.crash.dead) abandoned++;
      p.crash.kill("the end of its phase");
    }
    await clock.drainIo();
  };
  const limit = options.phaseLimitMs ?? 50 * leaseTtlMs;
  const drive = (work: Promise<unknown>) =>
    clock.settle(work, {
      until: clock.now() + limit,
      ...(scheduler === undefined ? {} : { scheduler }),
    });

  const runs = Array.from({ length: options.runs ?? 1 }, (_, i) => {
    const process = start(`runner-${i + 1}`, scheduler);
    return Promise.resolve(
      process.runner.run(process.saga, inputFor(options, world, i) as never, {
        sagaId: sagaIdFor(options, i),
      }),
    );
  });
  const racers = Array.from({ length: options.racers ?? 1 }, async (_, r) => {
    for (let k = 1; k <= (options.racePasses ?? 2); k++) {
      await sleep(clock, leaseTtlMs);
      await start(`racer-${r + 1}-${k}`, scheduler).recoverer.recover();
    }
  });
  const actors = (options.actors ?? []).map(async (actor, i) => {
    const process = start(`actor-${i + 1}`, scheduler);
    try {
      await actor(process.world, { clock: process.clock, index: i });
    } catch {
      // Another writer failing (a fault hit it, its process died) is part of the race, not a finding.
    }
  });
  const ran = await drive(Promise.all([...runs, ...racers, ...actors]));
  await endProcesses(ran.status === "stuck");
  for (let k = 1; k <= (options.faultyRecoveries ?? 1); k++) {
    await expireLeases(clock, log);
    const pass = await drive(
      Promise.resolve(start(`recoverer-${k}`, scheduler).recoverer.recover()),
    );
    await endProcesses(pass.status === "stuck");
  }

  // Late effects still on their way land now, before recovery is judged: one landing between two
  // settling passes would read as a pass that changed something.
  await clock.settle(injector.landed(), { until: clock.now() + limit });
  injector.enabled = false;
  const violations: InvariantViolation[] = [];
  const storeReaders = new Set<string>();
  const settlePasses = options.settlePasses ?? 5;
  let converged = false;
  for (let k = 1; k <= settlePasses && !converged; k++) {
    await expireLeases(clock, log);
    const pass = await clock.settle(
      Promise.resolve(start(`settler-${k}`, undefined).recoverer.recover()),
      { until: clock.now() + limit },
    );
    await endProcesses(pass.status === "stuck");
    const sagas = await loadSagas(log);
    converged = sagas.every((s) => TERMINAL_STATUSES.includes(s.record.status));
    if (!converged) continue;
    const before = await durableSnapshot(options, world, log);
    await expireLeases(clock, log);
    const again = await clock.settle(
      Promise.resolve(start("settler-again", undefined).recoverer.recover()),
      { until: clock.now() + limit },
    );
    await endProcesses(again.status === "stuck");
    violations.push(
      ...(await checkInvariants(
        invariantsOf(options),
        {
          world,
          log,
          sagas: await loadSagas(log),
          pass: k + 1,
          snapshot: await durableSnapshot(options, world, log),
          previousSnapshot: before,
          effects: injector.effects,
        },
        storeReaders,
      )),
    );
  }
  const sagas = await loadSagas(log);
  if (!converged) {
    violations.push({
      invariant: "recovery converges",
      message: `With faults off, ${settlePasses} recovery passes left sagas unfinished: ${sagas
        .filter((s) => !TERMINAL_STATUSES.includes(s.record.status))
        .map((s) => `"${s.record.sagaId}" ${s.record.status}`)
        .join(", ")}.`,
      pass: settlePasses,
    });
  }
  return {
    violations,
    statuses: sagas.map((s) => s.record.status),
    faults: injector.fired,
    abandoned,
    storesChecked: storeReaders.size > 0,
    stores: Object.keys(world.stores),
    ioStalls: clock.io.stalls,
  };
}
