import type { Effect } from "./effect-ledger.js";
import { describe, noLedger, stepEffects } from "./effects-match-log.js";
import { defineInvariant, type Invariant } from "./invariant.js";

/**
 * An invariant that no step's effect applied twice: for each step key, the effects of its
 * `execute` (and, apart, of its `compensate`) come from one call of the step code. A second call
 * whose effects all repeat the first's word for word (the same write to the same site, as a write
 * keyed by the step's idempotency key does) is not a second effect; any other is — a retry or a
 * recovery that executed a step whose first attempt had landed, or landed late.
 *
 * It judges the {@link EffectLedger} the kit records (see `context.effects`), not the stores'
 * contents, so it does not count as judging the stores.
 *
 * @example
 * ```ts
 * const invariants = [noDoubleEffect(), effectsMatchLog()];
 * ```
 */
export function noDoubleEffect(): Invariant {
  const name = "no effect applied twice";
  return defineInvariant(
    name,
    ({ effects }) => {
      if (effects === undefined) return noLedger(name);
      const violations: string[] = [];
      for (const [sagaId, steps] of stepEffects(effects)) {
        for (const [step, mine] of steps) {
          for (const phase of ["execute", "compensate"] as const) {
            const byCall = new Map<number, Effect[]>();
            for (const e of mine) {
              if (e.call?.phase !== phase) continue;
              const list = byCall.get(e.call.execution);
              if (list === undefined) byCall.set(e.call.execution, [e]);
              else list.push(e);
            }
            const [first, ...later] = [...byCall.values()];
            if (first === undefined) continue;
            const seen = new Set(first.map(fingerprint));
            const doubled = later.filter((effects) =>
              effects.some((e) => e.write === undefined || !seen.has(fingerprint(e))),
            );
            if (doubled.length === 0) continue;
            const key = first[0]?.call?.key ?? `${sagaId}:${step}`;
            violations.push(
              `The ${phase === "execute" ? "effect" : "compensation"} of step "${step}" of saga "${sagaId}" (key "${key}") applied ${doubled.length + 1} times: first ${describe(first)}; then ${doubled.map(describe).join("; then ")}.`,
            );
          }
        }
      }
      return violations;
    },
    { reads: "log" },
  );
}

function fingerprint(effect: Effect): string {
  return `${effect.site} ${effect.write}`;
}
