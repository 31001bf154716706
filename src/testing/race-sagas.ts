import { fastCheckScheduler } from "./fast-check-scheduler.js";
import type { FastCheckScheduler } from "./fast-check-types.js";
import { checkFaultPlan, type FaultPlan, NO_FAULTS } from "./fault-plan.js";
import {
  checkScheduleOptions,
  runSchedule,
  type ScheduleOptions,
  type ScheduleResult,
} from "./run-schedule.js";
import type { AnySaga, ScenarioWorld } from "./scenario.js";
import { uncheckedStoresWarning } from "./stores-checked.js";

/** Options of {@link raceSagas}. */
export interface RaceSagasOptions<World extends ScenarioWorld, S extends AnySaga>
  extends ScheduleOptions<World, S> {
  /**
   * The faults of the race, e.g. from `faultPlanArbitrary(fc)`.
   * @default no faults
   */
  readonly faults?: FaultPlan;
}

/**
 * Races concurrent runs, recoverers and other writers of a saga under fast-check's scheduler: every
 * call into the log and the stores is a task `s` orders, so fast-check explores their
 * interleavings, shrinks a failing one and replays it from its seed and path. After the race,
 * recovery runs with faults off until every saga ended, and the invariants are checked. Defaults:
 * one run and two racing recoverers. A race in which no invariant judged the stores (the standard
 * invariants read only the log) has the violation "an invariant reads the stores", unless
 * `allowUncheckedStores` is set.
 *
 * Returns what happened; assert on `violations` inside the property, so that fast-check reports
 * the failing schedule.
 *
 * @example
 * ```ts
 * await fc.assert(
 *   fc.asyncProperty(fc.scheduler(), faultPlanArbitrary(fc), async (s, faults) => {
 *     const race = await raceSagas(s, { ...scenario, faults, runs: 2 });
 *     expect(race.violations).toEqual([]);
 *   }),
 * );
 * ```
 */
export async function raceSagas<World extends ScenarioWorld, S extends AnySaga>(
  s: FastCheckScheduler,
  options: RaceSagasOptions<World, S>,
): Promise<ScheduleResult> {
  checkScheduleOptions(options as unknown as ScheduleOptions<ScenarioWorld, AnySaga>, "raceSagas");
  const plan = checkFaultPlan(options.faults ?? NO_FAULTS);
  const result = await runSchedule(
    { racers: 2, ...options } as unknown as ScheduleOptions<World, AnySaga>,
    plan,
    plan.seed,
    fastCheckScheduler(s),
  );
  if (result.storesChecked || options.allowUncheckedStores === true) return result;
  // Reported as a violation, so that the usual `expect(race.violations).toEqual([])` fails.
  const unchecked = {
    invariant: "an invariant reads the stores",
    message: uncheckedStoresWarning("raceSagas", result.stores),
    pass: 0,
  };
  return { ...result, violations: [...result.violations, unchecked] };
}
