import { LockstepDefinitionError } from "../model/definition-error.js";
import { describeValue } from "./validate.js";

/**
 * How a store closes an attempt whose call did not return — it timed out, was cancelled, or lost its
 * connection — declared as data next to the store's capabilities.
 *
 * Such an attempt is *open*: it may still land. lockstep never treats an open attempt as not
 * committed (never retries it under a new attempt, never compensates because of it) until it is
 * *closed*, proven unable to land. A store closes its attempts one of these ways:
 *
 * - `kill_and_wait`: when a call's signal aborts, the store ends the work for certain (Postgres:
 *   cancels, then terminates the attempt's backend from another connection) and the call settles
 *   only once the work can no longer land. lockstep waits for the call to settle before probing.
 * - `in_process`: the call's writes happen inside this process (better-sqlite3, memory), so once the
 *   call has settled nothing of it can land later. lockstep waits for the call to settle.
 * - `fence_token`: the store (or service) records the highest fencing token it has seen and refuses
 *   a request carrying a lower one. Before probing, lockstep makes a new attempt generation durable
 *   in the log and hands the higher token to the probe and to every later attempt or compensation,
 *   so the late request is refused when it arrives.
 * - `landing_horizon`: an attempt can stay in flight at most `horizonMs` past its deadline (a
 *   request timeout the service enforces); lockstep waits that long before trusting the probe.
 * - `none` (the default): nothing closes an attempt. A probe that finds the write is believed; a
 *   probe that does not find it cannot prove the write will not land, so the step is in doubt.
 */
export type AttemptFence =
  | { readonly mode: "kill_and_wait" }
  | { readonly mode: "in_process" }
  | { readonly mode: "fence_token" }
  | { readonly mode: "landing_horizon"; readonly horizonMs: number }
  | { readonly mode: "none" };

/** The fence of a store that declares none. */
export const NO_FENCE: AttemptFence = Object.freeze({ mode: "none" });

const MODES: readonly AttemptFence["mode"][] = [
  "kill_and_wait",
  "in_process",
  "fence_token",
  "landing_horizon",
  "none",
];

/** The largest delay a timer can wait: Node, Bun and browsers overflow past it. */
const MAX_TIMER_MS = 2_147_483_647;

/** Checks a declared fence; throws a {@link LockstepDefinitionError} naming the bad value. */
export function resolveFence(storeId: string, fence: unknown): AttemptFence {
  if (fence === undefined) return NO_FENCE;
  const mode = (fence as { mode?: unknown } | null)?.mode;
  if (typeof fence !== "object" || fence === null || !MODES.includes(mode as never)) {
    throw new LockstepDefinitionError(
      `Expected \`fence\` of store "${storeId}" to be an object whose \`mode\` is one of ${MODES.map((m) => `"${m}"`).join(", ")}, got ${describeValue(fence)}.`,
    );
  }
  if (mode === "landing_horizon") {
    const horizonMs = (fence as { horizonMs?: unknown }).horizonMs;
    if (
      typeof horizonMs !== "number" ||
      !Number.isInteger(horizonMs) ||
      horizonMs < 0 ||
      horizonMs > MAX_TIMER_MS
    ) {
      throw new LockstepDefinitionError(
        `Expected \`fence.horizonMs\` of store "${storeId}" to be an integer from 0 to ${MAX_TIMER_MS}, got ${describeValue(horizonMs)}.`,
      );
    }
    return Object.freeze({ mode, horizonMs });
  }
  return Object.freeze({ mode } as AttemptFence);
}

/** Whether the store closes an attempt by letting its call settle (`kill_and_wait`, `in_process`). */
export function closesBySettling(fence: AttemptFence): boolean {
  return fence.mode === "kill_and_wait" || fence.mode === "in_process";
}
