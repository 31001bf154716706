import { EntryType } from "../model/records.js";
import { defineInvariant, type Invariant } from "./invariant.js";

/**
 * An invariant that no step was compensated twice: each step of each saga has at most one
 * `compensated` entry in the log.
 *
 * @example
 * ```ts
 * const invariants = [noDoubleCompensation(), logWellFormed()];
 * ```
 */
export function noDoubleCompensation(): Invariant {
  return defineInvariant(
    "no compensation applied twice",
    ({ sagas }) => {
      const violations: string[] = [];
      for (const { record, entries } of sagas) {
        const counts = new Map<string, number>();
        for (const e of entries) {
          if (e.type === EntryType.Compensated) counts.set(e.step, (counts.get(e.step) ?? 0) + 1);
        }
        for (const [step, count] of counts) {
          if (count > 1) {
            violations.push(
              `Step "${step}" of saga "${record.sagaId}" was compensated ${count} times.`,
            );
          }
        }
      }
      return violations;
    },
    { reads: "log" },
  );
}
