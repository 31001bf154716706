import { type AttemptFence, closesBySettling, NO_FENCE } from "./attempt-fence.js";
import { sleep } from "./clock.js";
import type { CallOutcome } from "./deadline.js";
import type { ExecutionState } from "./execution-state.js";

/** Whether an attempt whose call did not return is closed: proven unable to land. */
export type AttemptClosure = "closed" | "open";

/**
 * How long lockstep waits for an abandoned call to settle on a store that closes attempts by letting
 * them settle, beyond the step's own timeout: Postgres needs this long to terminate a backend and
 * see it gone.
 */
const SETTLE_GRACE_MS = 15_000;

/**
 * Closes the attempt behind `outcome` — a call of step `i` that timed out, was aborted, or failed
 * in a way that may have applied — the strongest way its store declares (see {@link AttemptFence}),
 * before anything trusts a probe's "not committed": waits for the abandoned call to settle, makes a
 * new attempt generation durable so the store refuses the old one, or waits out the landing
 * horizon. `open` when none of these could be done; the step is then in doubt unless its probe finds
 * the write.
 */
export async function closeAttempt(
  state: ExecutionState,
  i: number,
  outcome: CallOutcome<unknown>,
): Promise<AttemptClosure> {
  const step = state.stepAt(i);
  const fence: AttemptFence = step.store.fence ?? NO_FENCE;
  if (closesBySettling(fence)) {
    if (outcome.status === "ok" || outcome.status === "error") return "closed";
    const pending = outcome.pending;
    if (pending === undefined) return "closed";
    const waitMs = (step.timeoutMs ?? state.env.timeoutMs) + SETTLE_GRACE_MS;
    return (await settlesWithin(state, pending, waitMs)) ? "closed" : "open";
  }
  if (fence.mode === "fence_token") return (await state.fenceAttempts()) ? "closed" : "open";
  if (fence.mode === "landing_horizon") {
    await sleep(state.env.clock, fence.horizonMs);
    return "closed";
  }
  return "open";
}

/**
 * Closes an attempt of step `i` made by an earlier execution (a crashed process, a run that lost
 * its lease): its call is not ours to wait for. A process that is gone cannot land an in-process
 * write; a store that fences by token already refuses it, since taking the saga over raised the
 * token; a landing horizon is waited out from the attempt's deadline. Postgres backends of a crashed
 * process are not killed: their transactions are bounded by the statement timeouts lockstep sets,
 * and the lease they outlived.
 */
export async function closeEarlierAttempt(
  state: ExecutionState,
  i: number,
): Promise<AttemptClosure> {
  const fence: AttemptFence = state.stepAt(i).store.fence ?? NO_FENCE;
  if (closesBySettling(fence) || fence.mode === "fence_token") return "closed";
  if (fence.mode === "landing_horizon") {
    await sleep(state.env.clock, fence.horizonMs);
    return "closed";
  }
  return "open";
}

async function settlesWithin(
  state: ExecutionState,
  pending: Promise<void>,
  waitMs: number,
): Promise<boolean> {
  let cancel = () => {};
  const timedOut = new Promise<false>((resolve) => {
    cancel = state.env.clock.setTimer(() => resolve(false), waitMs);
  });
  try {
    return await Promise.race([pending.then(() => true as const), timedOut]);
  } finally {
    cancel();
  }
}
