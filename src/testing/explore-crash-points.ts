import { errAsync, okAsync, ResultAsync } from "neverthrow";
import { assertFunction, assertInteger, describeValue } from "../core/validate.js";
import { MemorySagaLog } from "../log/memory-log.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { FaultInjector } from "./fault-injector.js";
import { type FaultPlan, NO_FAULTS } from "./fault-plan.js";
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
import { durableSnapshot, expireLeases, invariantsOf, startProcess } from "./simulated-process.js";
import { ioStallWarning, uncheckedStoresWarning } from "./stores-checked.js";
import { LockstepTestFailure, type TestingError, TestingErrorCode } from "./testing-error.js";

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
}

/** An invariant that did not hold in one explored schedule. */
export interface CrashViolation extends InvariantViolation {
  /** The schedule that produced it; pass it in `only` to replay it. */
  readonly schedule: CrashSchedule;
}

/** What {@link exploreCrashPoints} did. */
export interface CrashExplorationReport {
  /** The durable boundaries of the run, in order, as the dry run passed them. */
  readonly boundaries: readonly string[];
  /** How many crash points the dry run found in the run. */
  readonly points: number;
  /** How many of the run's crash points were explored and reached. */
  readonly reached: number;
  /** How many crash points inside the first recovery pass were explored. */
  readonly recoveryPoints: number;
  /** How many of those were reached. */
  readonly recoveryReached: number;
  /**
   * Run crash points whose state after the crash equalled one already explored, so their recovery
   * pass was not crashed again at each boundary.
   */
  readonly deduplicated: number;
  /** Every simulated schedule run, the dry run included. */
  readonly runs: number;
  /** How the sagas ended after the last recovery pass, by status, over every schedule. */
  readonly outcomes: Readonly<Record<string, number>>;
  /** Schedules whose crash was not reached, or reached at another boundary than the dry run's. */
  readonly unreached: readonly CrashSchedule[];
  /** Every invariant that did not hold, with its schedule. */
  readonly violations: readonly CrashViolation[];
  /**
   * Whether some invariant judged the stores (declared `reads: "stores"`, or read `world`). When
   * not, the exploration showed nothing about what the saga leaves in them and fails, unless
   * `allowUncheckedStores` is set.
   */
  readonly storesChecked: boolean;
  /**
   * What the exploration could not show, as full sentences: empty when the stores were checked and
   * no schedule stalled on calls in flight.
   */
  readonly warnings: readonly string[];
  /**
   * How many times, over every schedule, the kit went on while calls to real stores were still in
   * flight (with `realIo`, after `ioStallMs`); when 0, timing had no part in any outcome.
   */
  readonly ioStalls: number;
}

/** Options of {@link exploreCrashPoints}. */
export interface ExploreCrashPointsOptions<World extends ScenarioWorld, S extends AnySaga>
  extends Scenario<World, S> {
  /**
   * How many recovery passes follow each crash, each by a fresh process after the leases expired;
   * the invariants are checked after every one, and each pass after the first must change nothing.
   * @default 2
   */
  readonly recoverTimes?: number;
  /**
   * Faults injected in every process of every schedule, to explore a path other than the happy
   * one (a step that is refused, say).
   * @default no faults
   */
  readonly faults?: FaultPlan;
  /** What another writer does after the crash and before recovery; it gets the unwrapped world. */
  readonly interfere?: (world: World, schedule: CrashSchedule) => void | Promise<void>;
  /**
   * Whether to also crash the first recovery pass at each of its boundaries, then recover again.
   * @default true
   */
  readonly crashRecovery?: boolean;
  /**
   * Explores exactly these schedules instead of every point, e.g. one from a report's violations,
   * to replay it: `{ point }` crashes the run only, `{ point, recoveryPoint }` crashes the first
   * recovery pass too.
   */
  readonly only?: readonly Pick<CrashSchedule, "point" | "recoveryPoint">[];
}

interface ScheduleOutcome {
  readonly schedule: CrashSchedule;
  readonly reached: boolean;
  readonly recoveryBoundaries: readonly string[];
  readonly stateKey: string;
  readonly violations: readonly CrashViolation[];
  readonly statuses: readonly string[];
  readonly ioStalls: number;
}

/**
 * Explores every crash point of a saga. A dry run counts the durable boundaries the run passes —
 * before and after each store effect and each log write, compensations included. Then, for each
 * boundary, a fresh world runs the saga with its process crashing there, and fresh processes
 * recover `recoverTimes` times with the leases expired; the invariants are checked after every
 * pass, and a pass after a completed one must change nothing. With `crashRecovery`, the first
 * recovery pass is crashed in turn at each of its own boundaries before recovering again.
 *
 * It fails (`Err`) when it found no crash point, when a point was not reached (the saga is not
 * deterministic), when an invariant did not hold, or when no invariant judged the stores (the
 * standard invariants read only the log; see `allowUncheckedStores`); every violation names the
 * schedule that replays it through `only`.
 *
 * @example
 * ```ts
 * const result = await exploreCrashPoints({
 *   setup: () => ({ stores: { funds: createMemoryStore({ tier: "batch" }) } }),
 *   saga: (world) => transferSaga(world.stores.funds),
 *   input: { amount: 10 },
 *   invariants: [conservation],
 * });
 * if (result.isErr()) throw new Error(result.error.message);
 * ```
 */
export function exploreCrashPoints<World extends ScenarioWorld, S extends AnySaga>(
  options: ExploreCrashPointsOptions<World, S>,
): ResultAsync<CrashExplorationReport, TestingError<CrashExplorationReport>> {
  checkScenario(options as unknown as Scenario<ScenarioWorld, AnySaga>, "exploreCrashPoints");
  const recoverTimes = options.recoverTimes ?? 2;
  assertInteger("exploreCrashPoints: recoverTimes", recoverTimes, 1);
  if (options.interfere !== undefined)
    assertFunction("exploreCrashPoints: interfere", options.interfere);
  if (options.only !== undefined && !Array.isArray(options.only)) {
    throw new LockstepDefinitionError(
      `Expected \`only\` of exploreCrashPoints to be a list of crash schedules, got ${describeValue(options.only)}.`,
    );
  }
  return ResultAsync.fromSafePromise(explore(options, recoverTimes)).andThen((report) => {
    const error = failureOf(report, options);
    return error === undefined ? okAsync(report) : errAsync(error);
  });
}

/**
 * {@link exploreCrashPoints}, throwing a {@link LockstepTestFailure} (whose message lists every
 * violation with its replayable schedule) instead of returning an `Err`.
 *
 * @example
 * ```ts
 * const report = await assertCrashPoints({ setup, saga, input, invariants });
 * expect(report.reached).toBe(report.points);
 * ```
 */
export async function assertCrashPoints<World extends ScenarioWorld, S extends AnySaga>(
  options: ExploreCrashPointsOptions<World, S>,
): Promise<CrashExplorationReport> {
  const result = await exploreCrashPoints(options);
  if (result.isErr()) throw new LockstepTestFailure(result.error);
  return result.value;
}

async function explore<World extends ScenarioWorld, S extends AnySaga>(
  options: ExploreCrashPointsOptions<World, S>,
  recoverTimes: number,
): Promise<CrashExplorationReport> {
  let runs = 0;
  const storeReaders = new Set<string>();
  const run = (schedule: CrashSchedule) => {
    runs++;
    return runCrashSchedule(options, recoverTimes, schedule, storeReaders);
  };
  const dry = await run({ point: 0 });
  const boundaries = dry.boundariesOfRun;
  const outcomes: Record<string, number> = {};
  const unreached: CrashSchedule[] = [];
  const violations: CrashViolation[] = [];
  let reached = 0;
  let recoveryPoints = 0;
  let recoveryReached = 0;
  let deduplicated = 0;
  let ioStalls = 0;
  const stalled: CrashSchedule[] = [];
  const count = (outcome: ScheduleOutcome) => {
    violations.push(...outcome.violations);
    ioStalls += outcome.ioStalls;
    if (outcome.ioStalls > 0) stalled.push(outcome.schedule);
    const key = outcome.statuses.length === 0 ? "none" : outcome.statuses.join("+");
    outcomes[key] = (outcomes[key] ?? 0) + 1;
    if (!outcome.reached) unreached.push(outcome.schedule);
  };
  count(dry.outcome);
  const name = (i: number) => boundaries[i - 1];
  const selected =
    options.only?.map((s) => ({ point: s.point, recoveryPoint: s.recoveryPoint })) ??
    boundaries.map((_, i) => ({ point: i + 1, recoveryPoint: undefined }));
  const explored = new Set<string>();
  for (const chosen of selected) {
    const main = await run({
      point: chosen.point,
      ...withName("boundary", name(chosen.point)),
    });
    if (chosen.recoveryPoint === undefined) {
      count(main.outcome);
      if (main.outcome.reached) reached++;
    }
    if (options.crashRecovery === false) continue;
    // A replayed schedule without a recovery point is exactly that: no recovery crash after it.
    if (options.only !== undefined && chosen.recoveryPoint === undefined) continue;
    const recoveryNames = main.outcome.recoveryBoundaries;
    const points =
      chosen.recoveryPoint === undefined
        ? recoveryNames.map((_, q) => q + 1)
        : [chosen.recoveryPoint];
    if (chosen.recoveryPoint === undefined) {
      if (explored.has(main.outcome.stateKey)) {
        deduplicated++;
        continue;
      }
      explored.add(main.outcome.stateKey);
    }
    for (const q of points) {
      const outcome = await run({
        point: chosen.point,
        ...withName("boundary", name(chosen.point)),
        recoveryPoint: q,
        ...withName("recoveryBoundary", recoveryNames[q - 1]),
      });
      count(outcome.outcome);
      recoveryPoints++;
      if (outcome.outcome.reached) recoveryReached++;
    }
  }
  return {
    boundaries,
    points: boundaries.length,
    reached,
    recoveryPoints,
    recoveryReached,
    deduplicated,
    runs,
    outcomes,
    unreached,
    violations,
    storesChecked: storeReaders.size > 0,
    warnings: [
      ...(storeReaders.size > 0 ? [] : [uncheckedStoresWarning("exploreCrashPoints", dry.stores)]),
      ...(ioStalls === 0
        ? []
        : [ioStallWarning("exploreCrashPoints", ioStalls, `e.g. ${JSON.stringify(stalled[0])}`)]),
    ],
    ioStalls,
  };
}

function withName<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

/** Runs one schedule: the saga crashing at `point`, then the recovery passes. */
async function runCrashSchedule<World extends ScenarioWorld, S extends AnySaga>(
  options: ExploreCrashPointsOptions<World, S>,
  recoverTimes: number,
  schedule: CrashSchedule,
  storeReaders: Set<string>,
): Promise<{
  outcome: ScheduleOutcome;
  boundariesOfRun: readonly string[];
  stores: readonly string[];
}> {
  const scenario = options as unknown as Scenario<World, AnySaga>;
  const world = await options.setup();
  checkWorld(world, "exploreCrashPoints");
  const log = world.log ?? new MemorySagaLog();
  const clock = scheduleClock(scenario);
  const plan = options.faults ?? NO_FAULTS;
  const injector = new FaultInjector(plan);
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
  const runner = start("runner", crashAt);
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
  const passes = recoverTimes + (schedule.recoveryPoint === undefined ? 0 : 1);
  for (let k = 1; k <= passes; k++) {
    await expireLeases(clock, log);
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
    completed++;
    if (pass.status === "stuck") process.crash.kill("stuck");
    await clock.drainIo();
    await clock.settle(injector.landed());
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
    stores: Object.keys(world.stores),
  };
}

function failureOf<World extends ScenarioWorld, S extends AnySaga>(
  report: CrashExplorationReport,
  options: ExploreCrashPointsOptions<World, S>,
): TestingError<CrashExplorationReport> | undefined {
  const seed = options.faults === undefined ? "" : ` (fault plan seed ${options.faults.seed})`;
  if (report.points === 0) {
    return {
      code: TestingErrorCode.NoCrashPoints,
      message: `exploreCrashPoints found no durable boundary in the run of the saga${seed}, so no crash point was explored and nothing was shown; make sure the saga's stores and log are the ones setup() returns.`,
      report,
    };
  }
  if (report.violations.length > 0) {
    const shown = report.violations.slice(0, 10).map(describeViolation);
    const more = report.violations.length - shown.length;
    return {
      code: TestingErrorCode.InvariantViolated,
      message: `exploreCrashPoints found ${report.violations.length} invariant violation(s) over ${report.runs} schedules${seed}:\n${shown.join("\n")}${more > 0 ? `\n…and ${more} more.` : ""}`,
      report,
    };
  }
  if (report.unreached.length > 0) {
    return {
      code: TestingErrorCode.UnreachedCrashPoints,
      message: `exploreCrashPoints left ${report.unreached.length} crash point(s) unreached${seed}, e.g. ${JSON.stringify(report.unreached[0])}: the run did not pass the same boundaries as the dry run, so the saga or its setup is not deterministic.`,
      report,
    };
  }
  const unchecked = report.warnings[0];
  if (!report.storesChecked && unchecked !== undefined && options.allowUncheckedStores !== true) {
    return { code: TestingErrorCode.StoresUnchecked, message: unchecked, report };
  }
  return undefined;
}

/** One violation as a line naming its schedule and how to replay it. */
export function describeViolation(v: CrashViolation): string {
  const s = v.schedule;
  const where =
    s.point === 0
      ? "Without a crash"
      : `Crash point ${s.point} (${s.boundary ?? "?"})${s.recoveryPoint === undefined ? "" : `, then recovery crash point ${s.recoveryPoint} (${s.recoveryBoundary ?? "?"})`}`;
  const only = JSON.stringify(
    s.recoveryPoint === undefined
      ? { point: s.point }
      : { point: s.point, recoveryPoint: s.recoveryPoint },
  );
  return `- ${where}, after recovery pass ${v.pass}: [${v.invariant}] ${v.message} Replay it with \`only: [${only}]\`.`;
}
