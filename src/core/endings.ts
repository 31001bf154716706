import { AttentionReason } from "../model/attention-reason.js";
import { ErrorKind } from "../model/error-kind.js";
import { SagaStatus } from "../model/records.js";
import { ErrorCode, lockstepError, type SagaError } from "./errors.js";
import type { ExecutionState } from "./execution-state.js";
import { keyWindowAt } from "./key-window.js";
import { messageOf } from "./message-of.js";
import { type SagaReport, StepStatus } from "./report.js";

/** The result of driving a saga: its report, or the error it ended with. */
export type DriveResult =
  | { readonly ok: true; readonly report: SagaReport }
  | { readonly ok: false; readonly error: SagaError };

/** A drive that ended with `error`. */
export function fail(error: SagaError): DriveResult {
  return { ok: false, error: lockstepError(error) };
}

/** Ends the saga `needs_attention` at step `i`, for a person to decide, and frees its lease. */
export async function needsAttention(
  state: ExecutionState,
  i: number,
  reason: AttentionReason,
  message: string,
): Promise<DriveResult> {
  const step = state.stepAt(i);
  const attention = { reason, step: step.name, message };
  await state.write({ status: SagaStatus.NeedsAttention, attention, releaseLease: true });
  state.attention = attention;
  return fail({
    code: ErrorCode.NeedsAttention,
    message: `Saga "${state.sagaId}" needs attention at step "${step.name}": ${message}`,
    sagaId: state.sagaId,
    step: step.name,
    reason,
    report: state.report(),
  });
}

/**
 * Ends the saga `needs_attention` because step `i`'s output failed its schema or cannot be stored;
 * `message` says which, as the end of a sentence that starts "The output of step X".
 */
export function invalidOutput(
  state: ExecutionState,
  i: number,
  message: string,
): Promise<DriveResult> {
  const step = state.stepAt(i);
  return needsAttention(
    state,
    i,
    AttentionReason.InvalidOutput,
    `The output of step "${step.name}" ${message}; its write may be in place.`,
  );
}

/**
 * Parks the saga at step `i` with `status` (`in_doubt`, or `running` for the recoverer to retry)
 * and frees its lease.
 */
export async function park(
  state: ExecutionState,
  i: number,
  status: SagaStatus,
): Promise<DriveResult> {
  const step = state.stepAt(i);
  const expired = status === SagaStatus.InDoubt ? expiredKeyAttention(state, i) : undefined;
  await state.write({ status, releaseLease: true, ...(expired ? { attention: expired } : {}) });
  if (expired !== undefined) state.attention = expired;
  if (status === SagaStatus.InDoubt) {
    return fail({
      code: ErrorCode.InDoubt,
      message:
        expired === undefined
          ? `The outcome of step "${step.name}" of saga "${state.sagaId}" cannot be determined; the saga is parked and the recoverer will probe it again.`
          : `The outcome of step "${step.name}" of saga "${state.sagaId}" cannot be determined: ${expired.message} The saga is parked and the recoverer will probe it again.`,
      sagaId: state.sagaId,
      step: step.name,
      ...(expired === undefined ? {} : { reason: expired.reason }),
      report: state.report(),
    });
  }
  const st = state.stateAt(i);
  return fail({
    code: ErrorCode.Incomplete,
    message: state.pastPivot
      ? `Saga "${state.sagaId}" is past its point of no return but step "${step.name}" has not committed yet; the recoverer will finish it.`
      : `Saga "${state.sagaId}" has not finished: step "${step.name}" has not committed yet and the saga rolls forward, so the recoverer will retry it.`,
    sagaId: state.sagaId,
    step: step.name,
    ...(st.error === undefined ? {} : { cause: st.error }),
    report: state.report(),
  });
}

/**
 * Why step `i` is in doubt when its key has outlived its store's key window: the key can no longer
 * be sent again safely and the probe could not tell. `undefined` for any other step.
 */
function expiredKeyAttention(
  state: ExecutionState,
  i: number,
): { reason: AttentionReason; step: string; message: string } | undefined {
  const step = state.stepAt(i);
  const window = keyWindowAt(
    step.store.keyWindowMs,
    state.stateAt(i).firstSentAt,
    state.env.clock.now(),
  );
  if (window === undefined || !window.expired) return undefined;
  return {
    reason: AttentionReason.IdempotencyWindowExpired,
    step: step.name,
    message: `idempotency window expired: its key was first sent at ${new Date(window.firstSentAt).toISOString()} and store "${step.store.id}" remembers keys for ${window.windowMs} ms, so lockstep will not send it again, and its probe could not tell whether the write landed.`,
  };
}

/** The error of a saga whose step `i` failed and whose committed steps were compensated. */
export function stepFailed(
  state: ExecutionState,
  i: number,
  kind: ErrorKind,
  error: unknown,
): SagaError {
  const step = state.stepAt(i);
  return {
    code: ErrorCode.StepFailed,
    message: `Step "${step.name}" of saga "${state.saga.name}" failed (${kind}): ${messageOf(error)}. Every step it had committed was compensated.`,
    sagaId: state.sagaId,
    step: step.name,
    kind,
    cause: error,
    report: state.report(),
  };
}

/** The error of a saga that was unwound because it was interrupted before its pivot. */
export function interrupted(state: ExecutionState): SagaError {
  const failed = state.steps.findIndex((s) => s.status === StepStatus.NotCommitted);
  const at = failed >= 0 ? failed : Math.min(state.nextStep, state.steps.length - 1);
  const step = state.stepAt(at);
  const st = state.stateAt(at);
  return {
    code: ErrorCode.StepFailed,
    message: `Saga "${state.sagaId}" did not reach its point of no return (step "${step.name}") and has been compensated.`,
    sagaId: state.sagaId,
    step: step.name,
    kind: st.error?.kind ?? ErrorKind.Unknown,
    cause: st.error,
    report: state.report(),
  };
}
