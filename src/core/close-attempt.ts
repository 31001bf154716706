import type { NewOutboxMessage } from "../model/outbox.js";
import { type AttemptFence, closesBySettling, NO_FENCE } from "./attempt-fence.js";
import { sleep } from "./clock.js";
import type { CallOutcome } from "./deadline.js";
import type { ExecutionState } from "./execution-state.js";

/** What a step's probe said. */
export type ProbeOutcome =
  | {
      readonly status: "committed";
      readonly raw: unknown;
      readonly output: unknown;
      /** The outbox messages the commit records (see `checkCommit`). */
      readonly messages: readonly NewOutboxMessage[];
    }
  | { readonly status: "not_committed" }
  | { readonly status: "unknown" }
  | { readonly status: "invalid"; readonly message: string };

/** Whether an attempt whose call did not return is closed: proven unable to land. */
export type AttemptClosure = "closed" | "open";

/**
 * How long lockstep waits for an abandoned call to settle on a store that closes attempts by letting
 * them settle, beyond the step's own timeout: Postgres needs this long to terminate a backend and
 * see it gone.
 */
const SETTLE_GRACE_MS = 15_000;

/**
 * Settles an open attempt of step `i` — a call that timed out, was aborted, or failed in a way that
 * may have applied — by its probe, never trusting a "not committed" before the attempt is closed
 * the strongest way its store declares (see {@link AttemptFence}):
 *
 * - `fence_token`: a new attempt generation is made durable first, so the probe itself carries the
 *   higher token and the store refuses the old attempt from then on;
 * - `landing_horizon`: the horizon is waited out first;
 * - `kill_and_wait` and `in_process`: the probe runs at once, and a commit it finds is believed; a
 *   "not committed" is believed only once the abandoned call has settled — if it had not when the
 *   probe read, lockstep waits for it and probes again, since the write may have landed in between;
 * - `none`: only a commit the probe finds is believed.
 *
 * Returns the probe's verdict, with `not_committed` only for a closed attempt.
 */
export async function probeOpenAttempt(
  state: ExecutionState,
  i: number,
  outcome: CallOutcome<unknown>,
  probe: () => Promise<ProbeOutcome>,
): Promise<ProbeOutcome> {
  const step = state.stepAt(i);
  const fence: AttemptFence = step.store.fence ?? NO_FENCE;
  if (fence.mode === "fence_token") {
    if (!(await state.fenceAttempts())) return trustCommitOnly(await probe());
    return probe();
  }
  if (fence.mode === "landing_horizon") {
    await sleep(state.env.clock, fence.horizonMs);
    return probe();
  }
  if (!closesBySettling(fence)) return trustCommitOnly(await probe());
  const pending =
    outcome.status === "timeout" || outcome.status === "aborted" ? outcome.pending : undefined;
  let settled = pending === undefined;
  void pending?.then(() => {
    settled = true;
  });
  // Only a read that began after the call settled proves anything: a call that settles while the
  // probe is answering may have landed after the probe looked.
  const settledBeforeRead = settled;
  const first = await probe();
  if (first.status !== "not_committed" || settledBeforeRead) return first;
  const waitMs = (step.timeoutMs ?? state.env.timeoutMs) + SETTLE_GRACE_MS;
  if (!(await settlesWithin(state, pending as Promise<void>, waitMs))) return { status: "unknown" };
  return probe();
}

/** A probe's verdict where the attempt stays open: a commit it found, or nothing known. */
function trustCommitOnly(result: ProbeOutcome): ProbeOutcome {
  return result.status === "not_committed" ? { status: "unknown" } : result;
}

/**
 * Closes the attempt of a co-committed group whose COMMIT's fate is unknown, before the log written
 * in that transaction is read back: waits for the abandoned call to settle on a store that closes
 * attempts that way (Postgres terminates the transaction's backend and waits until it is gone).
 */
export async function closeAttempt(
  state: ExecutionState,
  i: number,
  outcome: CallOutcome<unknown>,
): Promise<AttemptClosure> {
  const step = state.stepAt(i);
  const fence: AttemptFence = step.store.fence ?? NO_FENCE;
  if (!closesBySettling(fence)) return "open";
  if (outcome.status === "ok" || outcome.status === "error") return "closed";
  const pending = outcome.pending;
  if (pending === undefined) return "closed";
  const waitMs = (step.timeoutMs ?? state.env.timeoutMs) + SETTLE_GRACE_MS;
  return (await settlesWithin(state, pending, waitMs)) ? "closed" : "open";
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
