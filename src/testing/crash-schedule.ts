import { MemorySagaLog } from "../log/memory-log.js";
import { FaultInjector } from "./fault-injector.js";
import { type FaultPlan, NO_FAULTS } from "./fault-plan.js";
import { checkInvariants, type InvariantViolation, loadSagas } from "./invariant.js";
import {
  type AnySaga,
  checkWorld,
  inputFor,
  type Scenario,
  type ScenarioWorld,
  sagaIdFor,
  scheduleClock,
} from "./scenario.js";
import { deriveSeed, seededRandom } from "./seeded-random.js";
import {
  durableSnapshot,
  expireLeases,
  invariantsOf,
  type SimulatedProcess,
  startProcess,
} from "./simulated-process.js";

/** One store call made late: its site, which call there (from 1, over the whole run), and how. */
export interface LateCall {
  /** The site, e.g. `"orders:plain.handle.put"`. */
  readonly site: string;
  /** Which call at that site, from 1, counted over the whole schedule, recovery included. */
  readonly call: number;
  readonly kind: "late_landing" | "slow_commit";
}

/** Where one explored run crashes: a replayable schedule. */
export interface CrashSchedule {
  /** The boundary of the run its process dies at, from 1; 0 is the run without a crash. */
  readonly point: number;
  /** That boundary's name, e.g. `"after log.write"`. */
  readonly boundary?: string;
  /** The boundary of the first recovery pass that process dies at too, from 1. */
  readonly recoveryPoint?: number;
  /** That boundary's name. */
  readonly recoveryBoundary?: string;
  /** With `lateFaults`: the store call made late in this schedule, on top of the fault plan. */
  readonly late?: LateCall;
}

/** An invariant that did not hold in one explored schedule. */
export interface CrashViolation extends InvariantViolation {
  /** The schedule that produced it; pass it in `only` to replay it. */
  readonly schedule: CrashSchedule;
}

/** What one schedule needs beyond the scenario. */
export interface ScheduleSetup<World extends ScenarioWorld, S extends AnySaga>
  extends Scenario<World, S> {
  readonly faults?: FaultPlan;
  readonly interfere?: (world: World, schedule: CrashSchedule) => void | Promise<void>;
  /** How long after its deadline a late call's effect lands. */
  readonly landingMs: number;
}

/** How one schedule went. */
export interface ScheduleOutcome {
  readonly schedule: CrashSchedule;
  readonly reached: boolean;
  readonly recoveryBoundaries: readonly string[];
  readonly stateKey: string;
  readonly violations: readonly CrashViolation[];
  readonly statuses: readonly string[];
  readonly ioStalls: number;
}

/** One schedule run, with what its run passed and called. */
export interface ScheduleRun {
  readonly outcome: ScheduleOutcome;
  /** The durable boundaries the run (not its recovery) passed, in order. */
  readonly boundariesOfRun: readonly string[];
  /** The names of the world's stores. */
  readonly stores: readonly string[];
  /**
   * With a late call made by the run itself (not its recovery): how many of the run's boundaries
   * it had passed then, its own `before` boundary included.
   */
  readonly lateAt?: number;
  /** Every store site called in the schedule, recovery included, with how many calls it got. */
  readonly storeCalls: readonly { readonly site: string; readonly calls: number }[];
}

/**
 * Runs one schedule: the saga crashing at `point` (with its late call, if any), then the recovery
 * passes, the first one crashing at `recoveryPoint`; the invariants are checked after each pass.
 */
export async function runCrashSchedule<World extends ScenarioWorld, S extends AnySaga>(
  options: ScheduleSetup<World, S>,
  recoverTimes: number,
  schedule: CrashSchedule,
  storeReaders: Set<string>,
): Promise<ScheduleRun> {
  const scenario = options as unknown as Scenario<World, AnySaga>;
  const world = await options.setup();
  checkWorld(world, "exploreCrashPoints");
  const log = world.log ?? new MemorySagaLog();
  const clock = scheduleClock(scenario);
  const plan = options.faults ?? NO_FAULTS;
  const late = schedule.late;
  // How many boundaries the run had passed when it made its late call, once it has.
  let lateAt: number | undefined;
  let runner: SimulatedProcess<World> | undefined;
  const injector = new FaultInjector(
    plan,
    late === undefined
      ? {}
      : {
          target: { ...late, landingMs: options.landingMs },
          onFault: (f) => {
            if (f.site === late.site && f.call === late.call && runner?.crash.dead === false) {
              lateAt ??= runner.crash.boundaries.length;
            }
          },
        },
  );
  const start = (owner: string, crashAt: number | undefined) =>
    startProcess(scenario, {
      world,
      log,
      clock,
      injector,
      owner,
      random: seededRandom(deriveSeed(plan.seed, owner)),
      crashAt,
    });
  const crashAt = schedule.point === 0 ? undefined : schedule.point;
  runner = start("runner", crashAt);
  const ran = await clock.settle(
    runner.runner.run(runner.saga, inputFor(scenario, world, 0) as never, {
      sagaId: sagaIdFor(scenario, 0),
    }),
  );
  if (ran.status === "stuck") runner.crash.kill("stuck");
  await clock.drainIo();
  await clock.settle(injector.landed());
  let reached =
    crashAt === undefined
      ? true
      : runner.crash.dead &&
        runner.crash.crashedAt === (schedule.boundary ?? runner.crash.crashedAt);
  if (options.interfere !== undefined) {
    await clock.settle(Promise.resolve(options.interfere(world, schedule)));
  }
  const stateKey = `${clock.now()} ${await durableSnapshot(scenario, world, log)}`;
  const invariants = invariantsOf(scenario);
  const violations: CrashViolation[] = [];
  const violated = (v: InvariantViolation) => violations.push({ ...v, schedule });
  let recoveryBoundaries: readonly string[] = [];
  let previous: string | undefined;
  let completed = 0;
  let passes = recoverTimes + (schedule.recoveryPoint === undefined ? 0 : 1);
  for (let k = 1; k <= passes; k++) {
    await expireLeases(clock, log);
    const firedBefore = injector.fired.length;
    const crashHere = k === 1 ? schedule.recoveryPoint : undefined;
    const process = start(`recoverer-${k}`, crashHere);
    const pass = await clock.settle(process.recoverer.recover());
    if (k === 1) recoveryBoundaries = [...process.crash.boundaries];
    if (crashHere !== undefined) {
      reached &&=
        process.crash.dead &&
        process.crash.crashedAt === (schedule.recoveryBoundary ?? process.crash.crashedAt);
      process.crash.kill("abandoned");
      await clock.drainIo();
      continue;
    }
    if (pass.status === "stuck") process.crash.kill("stuck");
    await clock.drainIo();
    await clock.settle(injector.landed());
    // A pass whose own call was the late one may leave the saga for the next pass, as a pass that
    // crashed does: it is not judged, and one more pass follows.
    if (late !== undefined && firedIn(injector, firedBefore, late)) {
      passes++;
      continue;
    }
    completed++;
    if (pass.status === "stuck") {
      violated({
        invariant: "recovery settles",
        message: "A recovery pass never settled.",
        pass: completed,
      });
    } else if (pass.status === "fulfilled" && pass.value.isErr()) {
      violated({
        invariant: "recovery settles",
        message: pass.value.error.message,
        pass: completed,
      });
    }
    const snapshot = await durableSnapshot(scenario, world, log);
    const sagas = await loadSagas(log);
    const found = await checkInvariants(
      invariants,
      {
        world,
        log,
        sagas,
        pass: completed,
        snapshot,
        previousSnapshot: previous,
        effects: injector.effects,
      },
      storeReaders,
    );
    for (const v of found) violated(v);
    previous = snapshot;
  }
  const statuses = (await loadSagas(log)).map((s) => s.record.status);
  return {
    outcome: {
      schedule,
      reached,
      recoveryBoundaries,
      stateKey,
      violations,
      statuses,
      ioStalls: clock.io.stalls,
    },
    boundariesOfRun: runner.crash.boundaries,
    ...(lateAt === undefined ? {} : { lateAt }),
    stores: Object.keys(world.stores),
    storeCalls: storeCallsOf(injector, Object.values(world.stores)),
  };
}

/** Whether the late call fired among the faults fired since `from`. */
function firedIn(injector: FaultInjector, from: number, late: LateCall): boolean {
  return injector.fired
    .slice(from)
    .some((f) => f.site === late.site && f.call === late.call && f.kind === late.kind);
}

/** The store sites of a schedule, in the order first called, with their call counts. */
function storeCallsOf(
  injector: FaultInjector,
  stores: readonly unknown[],
): { site: string; calls: number }[] {
  const prefixes = stores.map((s) => `${(s as { id: string }).id}.`);
  return injector.sites
    .filter((s) => s.calls > 0 && prefixes.some((p) => s.site.startsWith(p)))
    .map((s) => ({ site: s.site, calls: s.calls }));
}
