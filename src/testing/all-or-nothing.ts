import { assertFunction, describeValue } from "../core/validate.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { type SagaSnapshot, SagaStatus } from "../model/records.js";
import type { Invariant, InvariantContext } from "./invariant.js";

/**
 * Whether one saga's effect is present in one store. `saga` is the saga as the log holds it (its
 * `record.input` names what it wrote), or `undefined` when the log holds no saga at all.
 */
export type EffectPresent<World> = (
  world: World,
  saga: SagaSnapshot | undefined,
) => boolean | Promise<boolean>;

/** Options of {@link allOrNothing}. */
export interface AllOrNothingOptions {
  /**
   * The invariant's name in reports.
   * @default "all-or-nothing"
   */
  readonly name?: string;
  /**
   * Saga statuses in which a partial state is accepted, because the saga itself says a person must
   * look (a compensation's guard found someone else's write, say).
   * @default ["needs_attention", "quarantined"]
   */
  readonly partialWhen?: readonly SagaStatus[];
}

/**
 * An invariant that each saga's effects are all present or all absent across the stores, and that
 * this agrees with how the saga ended: `completed` means all, `compensated` means nothing, and a log
 * with no saga means nothing. Give one predicate per store (or per kind of effect).
 *
 * @example
 * ```ts
 * const atomic = allOrNothing<World>({
 *   funds: (w, saga) => w.funds.snapshot()[`hold:${orderOf(saga)}`] !== undefined,
 *   orders: (w, saga) => w.orders.snapshot()[`order:${orderOf(saga)}`] !== undefined,
 * });
 * ```
 */
export function allOrNothing<World>(
  parts: Readonly<Record<string, EffectPresent<World>>>,
  options: AllOrNothingOptions = {},
): Invariant<World> {
  const names = Object.keys(parts ?? {});
  if (typeof parts !== "object" || parts === null || names.length < 2) {
    throw new LockstepDefinitionError(
      `Expected \`parts\` of allOrNothing to be an object with at least two predicates, got ${describeValue(parts)}.`,
    );
  }
  for (const name of names) assertFunction(`allOrNothing part "${name}"`, parts[name]);
  const partialWhen = options.partialWhen ?? [SagaStatus.NeedsAttention, SagaStatus.Quarantined];
  const check = async (
    context: InvariantContext<World>,
    saga: SagaSnapshot | undefined,
  ): Promise<string | undefined> => {
    const present: string[] = [];
    const absent: string[] = [];
    for (const name of names) {
      const part = parts[name] as EffectPresent<World>;
      ((await part(context.world, saga)) ? present : absent).push(name);
    }
    const status = saga?.record.status;
    const who =
      saga === undefined ? "With no saga in the log" : `Saga "${saga.record.sagaId}" (${status})`;
    const state = `present in ${list(present)}, absent from ${list(absent)}`;
    if (status !== undefined && partialWhen.includes(status)) return undefined;
    if (present.length > 0 && absent.length > 0) return `${who} left a partial state: ${state}.`;
    const all = absent.length === 0;
    if (saga === undefined && all) return `${who}, its effects are nonetheless ${state}.`;
    if (status === SagaStatus.Completed && !all)
      return `${who} has effects ${state}; all were expected.`;
    if (status === SagaStatus.Compensated && all) {
      return `${who} has effects ${state}; none were expected.`;
    }
    return undefined;
  };
  return Object.freeze({
    name: options.name ?? "all-or-nothing",
    reads: "stores",
    async check(context: InvariantContext<World>) {
      if (context.sagas.length === 0) return check(context, undefined);
      const violations: string[] = [];
      for (const saga of context.sagas) {
        const violation = await check(context, saga);
        if (violation !== undefined) violations.push(violation);
      }
      return violations;
    },
  });
}

function list(names: readonly string[]): string {
  return names.length === 0 ? "none" : names.join(", ");
}
