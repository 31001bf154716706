import type { AttemptResult } from "./attempt-outcome.js";
import { closeEarlierAttempt } from "./close-attempt.js";
import type { ExecutionState } from "./execution-state.js";
import { keyWindowAt } from "./key-window.js";
import { StepStatus } from "./report.js";
import { probeStep } from "./settle.js";

/**
 * Stands between step `i` and sending its key again once the key has outlived its store's key
 * window: the provider no longer deduplicates it, so a blind re-send could apply the write twice.
 * The step's probe is asked first (it sees `keyWindow.expired` and must not trust a lookup by key):
 *
 * - it finds the write: the step is committed, by the probe, and nothing is sent;
 * - it proves the write absent, and every earlier attempt is closed (provably not applied, or
 *   closed the way the store declares): the step may be executed again — not blindly, since the
 *   probe has looked;
 * - anything else (cannot tell, no probe, an attempt that may still land): the step is in doubt,
 *   and the saga is parked with reason `idempotency_window_expired`.
 *
 * `undefined` when the key was never sent or its window has not passed: execute as usual.
 */
export async function guardExpiredKey(
  state: ExecutionState,
  i: number,
): Promise<AttemptResult | undefined> {
  const step = state.stepAt(i);
  const st = state.stateAt(i);
  const window = keyWindowAt(step.store.keyWindowMs, st.firstSentAt, state.env.clock.now());
  if (window === undefined || !window.expired) return undefined;
  const attempt = Math.max(1, st.attempts);
  const probe = await probeStep(state, i, attempt);
  if (probe.status === "invalid") return { type: "invalid_output", message: probe.message };
  if (probe.status === "committed") {
    state.commit(i, attempt, probe.raw, probe.output, "probe", probe.messages);
    return { type: "committed" };
  }
  if (probe.status === "not_committed") {
    if (st.status === StepStatus.NotCommitted) return undefined;
    if ((await closeEarlierAttempt(state, i)) === "closed") return undefined;
  }
  return { type: "in_doubt" };
}
