import { ErrorKind, isProvablyNotApplied } from "../model/error-kind.js";
import { EntryType } from "../model/records.js";
import { StepKind } from "../model/step-kind.js";
import { type AttemptResult, failureOf, findEscalation, retryAfter } from "./attempt-outcome.js";
import { probeOpenAttempt } from "./close-attempt.js";
import { readBackConflict } from "./conflict-probe.js";
import { callWithDeadline } from "./deadline.js";
import type { ExecutionState } from "./execution-state.js";
import { guardExpiredKey } from "./expired-key.js";
import { messageOf } from "./message-of.js";
import { StepStatus } from "./report.js";
import { probeAndRecord } from "./settle.js";
import type { StepDefinition } from "./step.js";
import { checkCommit } from "./step-messages.js";

/**
 * Runs step `i` until it commits or its retries run out: each attempt's intent is durable before
 * execute is called (unless a crash would lead to the same re-run anyway), an outcome the call does
 * not give is asked of the probe, and a step whose outcome stays unknown is in doubt, never retried
 * blind unless its key makes it idempotent — and never once its key has outlived its store's key
 * window (see `guardExpiredKey`).
 */
export async function attemptStep(
  state: ExecutionState,
  i: number,
  signal: AbortSignal | undefined,
): Promise<AttemptResult> {
  const step = state.stepAt(i);
  const st = state.stateAt(i);
  const policy = state.policies[i] as (typeof state.policies)[number];
  for (;;) {
    // A key the provider may have forgotten is never sent again before the probe has looked.
    const guarded = await guardExpiredKey(state, i);
    if (guarded !== undefined) return guarded;
    const attempt = st.attempts + 1;
    // Write-ahead: the intent (with this attempt and the fencing token) is durable before execute.
    // The first step's first intent may already be, written with the saga's creation.
    const durable = i === 0 && attempt === 1 && state.journal.takeFirstIntent();
    if (!durable && rerunByKey(step)) {
      // Recovery would execute this step again by its key whether or not an intent without an
      // outcome were durable, so the intent rides with the outcome instead of costing a write.
      state.journal.stage(state.entry(step, EntryType.Intent, attempt));
    } else if (!durable) {
      await state.write({ entries: [state.entry(step, EntryType.Intent, attempt)] });
    }
    st.attempts = attempt;
    st.executed = true;
    st.firstSentAt ??= state.env.clock.now();
    state.emit({ type: "step.started", step: step.name, attempt });
    const outcome = await callWithDeadline(
      state.env.clock,
      step.timeoutMs ?? state.env.timeoutMs,
      signal,
      (scope) => step.execute(state.context(i, attempt, scope)),
    );
    if (outcome.status === "ok") {
      const checked = checkCommit(state, i, outcome.value);
      if (!checked.ok) return { type: "invalid_output", message: checked.message };
      state.commit(i, attempt, outcome.value, checked.output, "execute", checked.messages);
      return { type: "committed" };
    }
    const { kind, error } = failureOf(step, outcome);
    const escalation = outcome.status === "error" ? findEscalation(outcome.error) : undefined;
    if (escalation !== undefined) {
      state.notCommitted(i, attempt, ErrorKind.NotCommitted, escalation);
      return { type: "escalated", message: escalation.message };
    }
    if (isProvablyNotApplied(kind)) {
      // A lost compare-and-set did not apply, but the same change may already be in place.
      const found = await readBackConflict(state, i, attempt, kind);
      if (found !== undefined) return found;
      state.notCommitted(i, attempt, kind, error);
    } else {
      st.status = StepStatus.Unknown;
      st.error = { kind, message: messageOf(error) };
      state.journal.stage(state.entry(step, EntryType.Unknown, attempt, { error: st.error }));
      state.emit({ type: "step.unknown", step: step.name, attempt, kind });
      // An attempt that may still land is closed before its probe is trusted to say it did not.
      const probed = await probeAndRecord(state, i, attempt, kind, error, (probe) =>
        probeOpenAttempt(state, i, outcome, probe),
      );
      if (probed !== undefined && probed.type !== "not_committed") return probed;
      if (
        probed === undefined &&
        (step.probe !== undefined || attempt >= policy.attempts || !policy.retryOn.includes(kind))
      ) {
        return { type: "in_doubt" };
      }
      // The probe says it did not commit, or the step is retriable without a probe: executed
      // again with the same key, it is idempotent by it.
    }
    const stop = await retryAfter(state, i, kind, error, signal);
    if (stop !== undefined) return stop;
  }
}

/**
 * Whether a step's outcome, if lost in a crash, is settled by executing it again with its key: a
 * retriable step without a probe, or one declared idempotent by its key. Such a step needs no
 * write-ahead intent of its own: a crash before its outcome is durable leads to the same re-run.
 */
function rerunByKey(step: StepDefinition): boolean {
  // A key window counts from the first intent, which must therefore be durable before the key is sent.
  if (step.store.keyWindowMs !== undefined) return false;
  return step.kind === StepKind.Retriable && (step.idempotent || step.probe === undefined);
}
