import { errAsync, okAsync, ResultAsync } from "neverthrow";
import { assertFunction, assertInteger, describeValue } from "../core/validate.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { type FaultEvent, LATE_KINDS } from "./fault-injector.js";
import { type FaultPlan, randomFaultPlan } from "./fault-plan.js";
import type { InvariantViolation } from "./invariant.js";
import { checkScheduleOptions, runSchedule, type ScheduleOptions } from "./run-schedule.js";
import type { AnySaga, ScenarioWorld } from "./scenario.js";
import { assertSeed, deriveSeed } from "./seeded-random.js";
import { SeededScheduler } from "./seeded-scheduler.js";
import { ioStallWarning, uncheckedStoresWarning } from "./stores-checked.js";
import { LockstepTestFailure, type TestingError, TestingErrorCode } from "./testing-error.js";

/** Options of {@link simulate}. */
export interface SimulateOptions<World extends ScenarioWorld, S extends AnySaga>
  extends ScheduleOptions<World, S> {
  /**
   * How many seeded schedules to run.
   * @default 1000
   */
  readonly schedules?: number;
  /**
   * The seed every schedule's seed derives from; a different one explores different schedules.
   * @default 1
   */
  readonly seed?: number;
  /** Runs exactly these schedule seeds instead, e.g. one a report named, to replay it. */
  readonly seeds?: readonly number[];
  /**
   * The fault plan of the schedule with seed `seed`.
   * @default randomFaultPlan(seed): every site active with probability 0.3, firing with 0.2
   */
  readonly faults?: (seed: number) => FaultPlan;
  /**
   * Whether a {@link SeededScheduler} seeded by the schedule interleaves every call of the
   * concurrent runs and recoverers; without it they interleave only as their latency allows.
   * @default true
   */
  readonly interleave?: boolean;
}

/** An invariant that did not hold in one schedule, with what replays it. */
export interface ScheduleViolation extends InvariantViolation {
  /** The schedule's seed: pass it in `seeds` to replay the schedule exactly. */
  readonly seed: number;
  /** The schedule's fault plan. */
  readonly plan: FaultPlan;
  /** The faults that fired in it, in order. */
  readonly faults: readonly FaultEvent[];
}

/** What {@link simulate} did. */
export interface SimulationReport {
  /** How many schedules ran. */
  readonly schedules: number;
  /** How many faults fired over all of them. */
  readonly faultsFired: number;
  /** Faults fired, by kind. */
  readonly faultKinds: Readonly<Record<string, number>>;
  /** Schedules in which at least one simulated process died or was abandoned stuck. */
  readonly crashed: number;
  /** Schedules in which at least one `late_landing` or `slow_commit` fired. */
  readonly lateSchedules: number;
  /** How the sagas ended, by status, over every schedule. */
  readonly outcomes: Readonly<Record<string, number>>;
  /** Every invariant that did not hold, with the seed that replays it. */
  readonly violations: readonly ScheduleViolation[];
  /**
   * Whether some invariant judged the stores (declared `reads: "stores"`, or read `world`). When
   * not, the simulation showed nothing about what the sagas leave in them and fails, unless
   * `allowUncheckedStores` is set.
   */
  readonly storesChecked: boolean;
  /**
   * What the simulation could not show, as full sentences: empty when the stores were checked and
   * no schedule stalled on calls in flight.
   */
  readonly warnings: readonly string[];
  /**
   * How many times, over every schedule, the kit went on while calls to real stores were still in
   * flight (with `realIo`, after `ioStallMs`); when 0, timing had no part in any outcome.
   */
  readonly ioStalls: number;
}

/**
 * Runs many seeded fault schedules of a saga in-process, on a virtual clock so that leases,
 * deadlines, backoff and latency cost no real time. Each schedule builds a fresh world, starts the
 * runs with faults from its plan (two-level seeded randomness by default) while recoverers race
 * them, recovers once more under faults, then recovers with faults off until every saga ended,
 * and checks the invariants and that one more pass changes nothing.
 *
 * It fails (`Err`) when any invariant did not hold; each violation carries its schedule's seed,
 * and `simulate({ ...options, seeds: [seed] })` replays that schedule exactly. It fails too when no
 * invariant judged the stores (the standard invariants read only the log), unless
 * `allowUncheckedStores` is set.
 *
 * @example
 * ```ts
 * const result = await simulate({ setup, saga, input, invariants, schedules: 2_000 });
 * if (result.isErr()) throw new Error(result.error.message); // names the seeds
 * ```
 */
export function simulate<World extends ScenarioWorld, S extends AnySaga>(
  options: SimulateOptions<World, S>,
): ResultAsync<SimulationReport, TestingError<SimulationReport>> {
  checkScheduleOptions(options as unknown as ScheduleOptions<ScenarioWorld, AnySaga>, "simulate");
  const schedules = options.schedules ?? 1_000;
  assertInteger("simulate: schedules", schedules, 1);
  const base = options.seed ?? 1;
  assertSeed("simulate: seed", base);
  if (options.seeds !== undefined) {
    if (!Array.isArray(options.seeds) || options.seeds.length === 0) {
      throw new LockstepDefinitionError(
        `Expected \`seeds\` of simulate to be a non-empty list of seeds, got ${describeValue(options.seeds)}.`,
      );
    }
    for (const [i, s] of options.seeds.entries()) assertSeed(`simulate: seeds[${i}]`, s);
  }
  if (options.faults !== undefined) assertFunction("simulate: faults", options.faults);
  const seeds =
    options.seeds ?? Array.from({ length: schedules }, (_, i) => deriveSeed(base, "schedule", i));
  return ResultAsync.fromSafePromise(run(options, seeds)).andThen((report) => {
    if (report.violations.length > 0) {
      return errAsync({
        code: TestingErrorCode.InvariantViolated,
        message: describeFailure(report),
        report,
      });
    }
    const unchecked = report.warnings[0];
    if (report.storesChecked || unchecked === undefined || options.allowUncheckedStores === true) {
      return okAsync(report);
    }
    return errAsync({ code: TestingErrorCode.StoresUnchecked, message: unchecked, report });
  });
}

/**
 * {@link simulate}, throwing a {@link LockstepTestFailure} whose message names every failing seed
 * instead of returning an `Err`.
 *
 * @example
 * ```ts
 * const report = await assertSimulation({ setup, saga, input, invariants, schedules: 500 });
 * expect(report.schedules).toBe(500);
 * ```
 */
export async function assertSimulation<World extends ScenarioWorld, S extends AnySaga>(
  options: SimulateOptions<World, S>,
): Promise<SimulationReport> {
  const result = await simulate(options);
  if (result.isErr()) throw new LockstepTestFailure(result.error);
  return result.value;
}

async function run<World extends ScenarioWorld, S extends AnySaga>(
  options: SimulateOptions<World, S>,
  seeds: readonly number[],
): Promise<SimulationReport> {
  const scenario = options as unknown as ScheduleOptions<World, AnySaga>;
  const violations: ScheduleViolation[] = [];
  const outcomes: Record<string, number> = {};
  const faultKinds: Record<string, number> = {};
  let faultsFired = 0;
  let crashed = 0;
  let lateSchedules = 0;
  let storesChecked = false;
  let stores: readonly string[] = [];
  let ioStalls = 0;
  const stalled: number[] = [];
  for (const seed of seeds) {
    const plan = options.faults?.(seed) ?? randomFaultPlan(seed);
    const scheduler =
      options.interleave === false
        ? undefined
        : new SeededScheduler(deriveSeed(seed, "interleave"));
    const result = await runSchedule(scenario, plan, seed, scheduler);
    for (const v of result.violations) violations.push({ ...v, seed, plan, faults: result.faults });
    for (const status of result.statuses) outcomes[status] = (outcomes[status] ?? 0) + 1;
    if (result.statuses.length === 0) outcomes.none = (outcomes.none ?? 0) + 1;
    for (const f of result.faults) faultKinds[f.kind] = (faultKinds[f.kind] ?? 0) + 1;
    faultsFired += result.faults.length;
    if (result.abandoned > 0) crashed++;
    if (result.faults.some((f) => LATE_KINDS.includes(f.kind))) lateSchedules++;
    storesChecked ||= result.storesChecked;
    stores = result.stores;
    ioStalls += result.ioStalls;
    if (result.ioStalls > 0) stalled.push(seed);
  }
  const tool = `simulate (${seeds.length} schedules)`;
  const warnings = [
    ...(storesChecked ? [] : [uncheckedStoresWarning(tool, stores)]),
    ...(ioStalls === 0
      ? []
      : [ioStallWarning(tool, ioStalls, `seeds ${stalled.slice(0, 5).join(", ")}`)]),
  ];
  return {
    schedules: seeds.length,
    faultsFired,
    faultKinds,
    crashed,
    lateSchedules,
    outcomes,
    violations,
    storesChecked,
    warnings,
    ioStalls,
  };
}

function describeFailure(report: SimulationReport): string {
  const seeds = [...new Set(report.violations.map((v) => v.seed))];
  const lines = report.violations.slice(0, 10).map((v) => {
    const faults = v.faults.map((f) => `${f.kind}@${f.site}#${f.call}`).join(", ") || "none";
    return `- seed ${v.seed}: [${v.invariant}] ${v.message} Faults: ${faults}.`;
  });
  const more = report.violations.length - lines.length;
  return `simulate found ${report.violations.length} invariant violation(s) in ${seeds.length} of ${report.schedules} schedules; replay one with \`seeds: [${seeds.slice(0, 5).join(", ")}]\`:\n${lines.join("\n")}${more > 0 ? `\n…and ${more} more.` : ""}`;
}
