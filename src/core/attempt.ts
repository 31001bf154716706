import { ErrorKind, isProvablyNotApplied } from "../model/error-kind.js";
import { EntryType } from "../model/records.js";
import { StepKind } from "../model/step-kind.js";
import {
  type AttemptResult,
  failureOf,
  findEscalation,
  retryAfter,
  zodMessage,
} from "./attempt-outcome.js";
import { callWithDeadline } from "./deadline.js";
import type { ExecutionState } from "./execution-state.js";
import { messageOf } from "./message-of.js";
import { StepStatus } from "./report.js";
import { probeAndRecord } from "./settle.js";
import type { StepDefinition } from "./step.js";

/**
 * Runs step `i` until it commits or its retries run out: each attempt's intent is durable before
 * execute is called (unless a crash would lead to the same re-run anyway), an outcome the call does
 * not give is asked of the probe, and a step whose outcome stays unknown is in doubt, never retried
 * blind unless its key makes it idempotent.
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
    state.emit({ type: "step.started", step: step.name, attempt });
    const outcome = await callWithDeadline(
      state.env.clock,
      step.timeoutMs ?? state.env.timeoutMs,
      signal,
      (scope) => step.execute(state.context(i, attempt, scope)),
    );
    if (outcome.status === "ok") {
      const parsed = step.output.safeParse(outcome.value);
      if (!parsed.success) return { type: "invalid_output", message: zodMessage(parsed.error) };
      state.commit(i, attempt, outcome.value, parsed.data, "execute");
      return { type: "committed" };
    }
    const { kind, error } = failureOf(step, outcome);
    const escalation = outcome.status === "error" ? findEscalation(outcome.error) : undefined;
    if (escalation !== undefined) {
      state.notCommitted(i, attempt, ErrorKind.NotCommitted, escalation);
      return { type: "escalated", message: escalation.message };
    }
    if (isProvablyNotApplied(kind)) {
      state.notCommitted(i, attempt, kind, error);
    } else {
      st.status = StepStatus.Unknown;
      st.error = { kind, message: messageOf(error) };
      state.journal.stage(state.entry(step, EntryType.Unknown, attempt, { error: st.error }));
      state.emit({ type: "step.unknown", step: step.name, attempt, kind });
      const probed = await probeAndRecord(state, i, attempt, kind, error);
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
  return step.kind === StepKind.Retriable && (step.idempotent || step.probe === undefined);
}
