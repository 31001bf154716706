import type { ProbeResult, StepContext } from "../../core/step.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";

/** How {@link probeByKey} looks a step's write up. */
export interface ProbeByKeyOptions<Input, Outputs, Handle, Output> {
  /**
   * Looks the write up by the step's idempotency key (`ctx.key`): its output when the provider has
   * it, `undefined` when it does not. Trusted to say "not there" only inside the key window: after
   * it the provider may have forgotten the key.
   */
  readonly byKey?: (
    ctx: StepContext<Input, Outputs, Handle>,
  ) => Promise<Output | undefined> | Output | undefined;
  /**
   * Looks the write up by something the provider keeps for as long as the write itself, e.g. the
   * key stored in the charge's metadata (`metadata['lockstep_key']`): its output when found,
   * `undefined` when the provider proves there is none. Asked when `byKey` cannot answer.
   */
  readonly byQuery?: (
    ctx: StepContext<Input, Outputs, Handle>,
  ) => Promise<Output | undefined> | Output | undefined;
}

/**
 * A step probe for an API with idempotency keys: asks `byKey`, and once the key window of the
 * step's store has passed (`ctx.keyWindow.expired`), or without `byKey`, asks `byQuery`. A write
 * either finds is committed; "not found" is believed from `byKey` only inside the window and from
 * `byQuery` always; otherwise the probe cannot tell, with the reason "idempotency window expired".
 *
 * @example
 * ```ts
 * type Ctx = StepContext<unknown, unknown, HttpApiClient>;
 * const probe = probeByKey({
 *   byKey: async ({ handle, key }: Ctx) => (await handle.get(`v1/charges/by-key/${key}`))?.body,
 *   byQuery: async ({ handle, key }: Ctx) =>
 *     (await handle.get("v1/charges/search", { query: { metadata_key: key } }))?.body,
 * });
 * ```
 */
export function probeByKey<Input, Outputs, Handle, Output>(
  options: ProbeByKeyOptions<Input, Outputs, Handle, Output>,
): (ctx: StepContext<Input, Outputs, Handle>) => Promise<ProbeResult<Output>> {
  const { byKey, byQuery } = options;
  if (byKey === undefined && byQuery === undefined) {
    throw new LockstepDefinitionError(
      "probeByKey needs `byKey`, `byQuery`, or both: without either it could only ever cannot-tell.",
    );
  }
  return async (ctx) => {
    const expired = ctx.keyWindow?.expired === true;
    if (byKey !== undefined) {
      const found = await byKey(ctx);
      if (found !== undefined) return { status: "committed", output: found };
      if (!expired) return { status: "not_committed" };
    }
    if (byQuery !== undefined) {
      const found = await byQuery(ctx);
      return found === undefined
        ? { status: "not_committed" }
        : { status: "committed", output: found };
    }
    return {
      status: "unknown",
      reason: `idempotency window expired: the provider may have forgotten key "${ctx.key}", and no query by another field was given`,
    };
  };
}
