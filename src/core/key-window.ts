import { LockstepDefinitionError } from "../model/definition-error.js";
import { describeValue } from "./validate.js";

/**
 * Where a step's idempotency key stands against its store's key window, as a step call sees it:
 * when the key was first sent (the time of the step's first durable intent, so a crash and a
 * recovery keep it), when the provider forgets it, and whether it already has.
 *
 * Present on a step's context only when its store declares `keyWindowMs`.
 */
export interface KeyWindow {
  /** How long the provider remembers a key, in milliseconds, as the store declares it. */
  readonly windowMs: number;
  /**
   * When the key was first sent, in milliseconds since the epoch: the time of the step's first
   * intent, durable before its first execute.
   */
  readonly firstSentAt: number;
  /** `firstSentAt + windowMs`: from then on the provider may no longer know the key. */
  readonly expiresAt: number;
  /**
   * Whether the window had passed when this call started: a lookup by key then proves nothing, and
   * a request with the key is no longer deduplicated by the provider.
   */
  readonly expired: boolean;
}

/**
 * Checks a store's declared key window: a positive whole number of milliseconds. Throws a
 * {@link LockstepDefinitionError} naming the value otherwise (`0`, `NaN`, a negative, a fraction,
 * a string).
 */
export function resolveKeyWindow(storeId: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new LockstepDefinitionError(
      `Expected \`keyWindowMs\` of store "${storeId}" to be a whole number of milliseconds >= 1 (how long the provider remembers an idempotency key), got ${describeValue(value)}.`,
    );
  }
  return value;
}

/** The key window a step call sees, or `undefined` when its store declares none or no key was sent. */
export function keyWindowAt(
  windowMs: number | undefined,
  firstSentAt: number | undefined,
  now: number,
): KeyWindow | undefined {
  if (windowMs === undefined || firstSentAt === undefined) return undefined;
  const expiresAt = firstSentAt + windowMs;
  return Object.freeze({ windowMs, firstSentAt, expiresAt, expired: now >= expiresAt });
}

/** What a step's key window means for it, in words, for its explain plan. */
export function keyWindowNote(
  sagaName: string,
  step: { readonly name: string; readonly probe: unknown; readonly store: { readonly id: string } },
  windowMs: number,
): string {
  const then =
    step.probe === undefined
      ? "it has no probe, so it then ends in doubt (idempotency_window_expired)"
      : "its probe is asked first, and a probe that cannot tell leaves it in doubt (idempotency_window_expired)";
  return `Step "${step.name}" of saga "${sagaName}" sends its key to store "${step.store.id}", which remembers keys for ${windowMs} ms from the step's first intent; after that the key is never sent again blindly: ${then}.`;
}
