import { errAsync, okAsync, ResultAsync } from "neverthrow";
import { assertFunction, assertInteger, describeValue } from "../core/validate.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import {
  type CrashSchedule,
  type CrashViolation,
  type LateCall,
  runCrashSchedule,
  type ScheduleOutcome,
} from "./crash-schedule.js";
import type { FaultPlan } from "./fault-plan.js";
import { type AnySaga, checkScenario, type Scenario, type ScenarioWorld } from "./scenario.js";
import { ioStallWarning, uncheckedStoresWarning } from "./stores-checked.js";
import { LockstepTestFailure, type TestingError, TestingErrorCode } from "./testing-error.js";

export type { CrashSchedule, CrashViolation, LateCall } from "./crash-schedule.js";

/** How long after its deadline each late call's effect lands, unless `lateFaults` says. */
export const DEFAULT_LATE_LANDING_MS = 5_000;

/** The late kinds every store call is made in turn with `lateFaults`. */
const LATE_CALL_KINDS: readonly LateCall["kind"][] = ["late_landing", "slow_commit"];

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
  /**
   * With `lateFaults`: how many store calls the dry run made (recovery included), each made late
   * in turn; 0 without.
   */
  readonly storeCalls: number;
  /**
   * With `lateFaults`: how many schedules made one store call late and ran without a crash — two
   * per store call of the dry run, one `late_landing` and one `slow_commit`.
   */
  readonly lateRuns: number;
  /** With `lateFaults`: how many crash points the late runs passed, each explored with its late call. */
  readonly latePoints: number;
  /** How many of those were reached. */
  readonly lateReached: number;
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
  readonly only?: readonly Pick<CrashSchedule, "point" | "recoveryPoint" | "late">[];
  /**
   * Also makes each store call of the dry run late in turn: once as a `late_landing`, once as a
   * `slow_commit` (on top of `faults`, every other call as the plan says). Each such run is
   * recovered and checked, then crashed at each of its own boundaries and recovered again; the
   * effect invariants (`effectsMatchLog`, `noDoubleEffect`) judge what landed. A late call's
   * effect lands as its store's declared attempt fence allows (see `FaultKind.LateLanding`).
   * `true` lands each `DEFAULT_LATE_LANDING_MS` after its deadline; `{ landingMs }` says when.
   * @default false
   */
  readonly lateFaults?: boolean | { readonly landingMs?: number };
}

/**
 * Explores every crash point of a saga. A dry run counts the durable boundaries the run passes —
 * before and after each store effect and each log write, compensations included. Then, for each
 * boundary, a fresh world runs the saga with its process crashing there, and fresh processes
 * recover `recoverTimes` times with the leases expired; the invariants are checked after every
 * pass, and a pass after a completed one must change nothing. With `crashRecovery`, the first
 * recovery pass is crashed in turn at each of its own boundaries before recovering again. With
 * `lateFaults`, each store call of the dry run is then made late in turn, once as a `late_landing`
 * and once as a `slow_commit`, and each such run is recovered, then crashed at each of its own
 * boundaries and recovered again (`lateRuns`, `latePoints` in the report).
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
  const late = options.lateFaults;
  if (
    late !== undefined &&
    typeof late !== "boolean" &&
    (typeof late !== "object" || late === null)
  ) {
    throw new LockstepDefinitionError(
      `Expected \`lateFaults\` of exploreCrashPoints to be a boolean or { landingMs }, got ${describeValue(late)}.`,
    );
  }
  const landingMs =
    typeof late === "object"
      ? (late.landingMs ?? DEFAULT_LATE_LANDING_MS)
      : DEFAULT_LATE_LANDING_MS;
  assertInteger("exploreCrashPoints: lateFaults.landingMs", landingMs, 0);
  return ResultAsync.fromSafePromise(explore(options, recoverTimes, landingMs)).andThen(
    (report) => {
      const error = failureOf(report, options);
      return error === undefined ? okAsync(report) : errAsync(error);
    },
  );
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
  landingMs: number,
): Promise<CrashExplorationReport> {
  let runs = 0;
  const storeReaders = new Set<string>();
  const setup = { ...options, landingMs };
  const run = (schedule: CrashSchedule) => {
    runs++;
    return runCrashSchedule(setup, recoverTimes, schedule, storeReaders);
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
    options.only?.map((s) => ({ point: s.point, recoveryPoint: s.recoveryPoint, late: s.late })) ??
    boundaries.map((_, i) => ({ point: i + 1, recoveryPoint: undefined, late: undefined }));
  const explored = new Set<string>();
  for (const chosen of selected) {
    if (chosen.late !== undefined) {
      // A replayed late schedule: exactly that schedule, its boundaries being the late run's own.
      count((await run(withoutUndefined(chosen))).outcome);
      continue;
    }
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
  let lateRuns = 0;
  let latePoints = 0;
  let lateReached = 0;
  const storeCalls = dry.storeCalls.reduce((n, s) => n + s.calls, 0);
  const lateMode = options.lateFaults !== undefined && options.lateFaults !== false;
  if (lateMode && options.only === undefined) {
    for (const { site, calls } of dry.storeCalls) {
      for (let call = 1; call <= calls; call++) {
        for (const kind of LATE_CALL_KINDS) {
          const late: LateCall = { site, call, kind };
          const lateRun = await run({ point: 0, late });
          count(lateRun.outcome);
          lateRuns++;
          const own = lateRun.boundariesOfRun;
          // Crashes from the late call on: while it is in flight, and after it answered.
          for (let p = (lateRun.lateAt ?? own.length) + 1; p <= own.length; p++) {
            const crashed = await run({ point: p, ...withName("boundary", own[p - 1]), late });
            count(crashed.outcome);
            latePoints++;
            if (crashed.outcome.reached) lateReached++;
          }
        }
      }
    }
  }
  return {
    boundaries,
    points: boundaries.length,
    reached,
    recoveryPoints,
    recoveryReached,
    deduplicated,
    storeCalls: lateMode ? storeCalls : 0,
    lateRuns,
    latePoints,
    lateReached,
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

function withoutUndefined(chosen: {
  point: number;
  recoveryPoint: number | undefined;
  late: LateCall | undefined;
}): CrashSchedule {
  return {
    point: chosen.point,
    ...(chosen.recoveryPoint === undefined ? {} : { recoveryPoint: chosen.recoveryPoint }),
    ...(chosen.late === undefined ? {} : { late: chosen.late }),
  };
}

function withName<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
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
  const late =
    s.late === undefined ? "" : `, call ${s.late.call} of ${s.late.site} made ${s.late.kind}`;
  const only = JSON.stringify({
    point: s.point,
    ...(s.recoveryPoint === undefined ? {} : { recoveryPoint: s.recoveryPoint }),
    ...(s.late === undefined ? {} : { late: s.late }),
  });
  return `- ${where}${late}, after recovery pass ${v.pass}: [${v.invariant}] ${v.message} Replay it with \`only: [${only}]\`.`;
}
