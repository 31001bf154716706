import { describeDifference } from "./canonical-json.js";
import { defineInvariant, type Invariant } from "./invariant.js";

/**
 * An invariant that a recovery pass after a completed one changes nothing durable: the snapshot
 * after each pass equals the one after the pass before. The explorer and the simulator check it by
 * default.
 *
 * @example
 * ```ts
 * const report = await exploreCrashPoints({ ...scenario, invariants: [recoveryIdempotent()] });
 * ```
 */
export function recoveryIdempotent(): Invariant {
  // It compares the stores' snapshots but judges only whether they changed, not what they hold.
  return defineInvariant(
    "recovery is idempotent",
    ({ snapshot, previousSnapshot, pass }) =>
      previousSnapshot === undefined || previousSnapshot === snapshot
        ? undefined
        : `Recovery pass ${pass} changed durable state that pass ${pass - 1} had left: ${describeDifference(previousSnapshot, snapshot)}.`,
    { reads: "log" },
  );
}
