import { AttentionReason } from "../model/attention-reason.js";
import { ErrorKind } from "../model/error-kind.js";
import { EntryType, SagaStatus } from "../model/records.js";
import { StepKind } from "../model/step-kind.js";
import { sleep } from "./clock.js";
import { callWithDeadline } from "./deadline.js";
import { type DriveResult, fail, needsAttention } from "./endings.js";
import { classifyError } from "./error-kinds.js";
import { ErrorCode, type SagaError } from "./errors.js";
import type { ExecutionState } from "./execution-state.js";
import { messageOf } from "./message-of.js";
import { StepStatus } from "./report.js";
import { backoffDelay } from "./retry.js";
import { settleUnknown } from "./settle.js";
import type { StepDefinition } from "./step.js";

/**
 * Compensates every committed step in reverse and ends the saga `compensated` with the error
 * `failure` builds. A step whose outcome is unknown is settled by its probe first and never
 * compensated without one: a saga that cannot settle it stays compensating for the recoverer. A
 * step that provably never applied gets a recorded no-op.
 */
export async function compensateAll(
  state: ExecutionState,
  failure: () => SagaError,
): Promise<DriveResult> {
  if (state.status !== SagaStatus.Compensating) {
    await state.write({ status: SagaStatus.Compensating });
  }
  for (let j = state.steps.length - 1; j >= 0; j--) {
    const step = state.stepAt(j);
    const st = state.stateAt(j);
    if (st.status === StepStatus.Unknown) {
      const settled = await settleUnknown(state, j);
      if (settled.type === "in_doubt" || settled.type === "invalid_output") {
        // Never compensate an unknown step without a probe: leave it for the recoverer.
        await state.write({ releaseLease: true });
        return fail({
          code: ErrorCode.InDoubt,
          message: `Saga "${state.sagaId}" is compensating but the outcome of step "${step.name}" cannot be determined; the recoverer will probe it again.`,
          sagaId: state.sagaId,
          step: step.name,
          report: state.report(),
        });
      }
    }
    if (st.status === StepStatus.Committed && step.kind === StepKind.Compensatable) {
      const stopped = await runCompensation(state, j);
      if (stopped !== undefined) return stopped;
    } else if (st.executed && st.status === StepStatus.NotCommitted) {
      // Null compensation: the step provably never applied, so undoing it is a recorded no-op.
      state.journal.stage(
        state.entry(step, EntryType.CompensationSkipped, Math.max(1, st.attempts)),
      );
      state.emit({
        type: "compensation.finished",
        step: step.name,
        attempt: 0,
        result: "skipped",
      });
    }
  }
  await state.write({ status: SagaStatus.Compensated, releaseLease: true });
  return fail(failure());
}

/** Runs step `j`'s compensation with its retries; returns a result only if the saga must stop. */
async function runCompensation(state: ExecutionState, j: number): Promise<DriveResult | undefined> {
  const step = state.stepAt(j);
  const st = state.stateAt(j);
  const policy = state.policies[j] as (typeof state.policies)[number];
  const compensate = step.compensate as NonNullable<StepDefinition["compensate"]>;
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    await state.write({ entries: [state.entry(step, EntryType.CompensationIntent, attempt)] });
    state.emit({ type: "compensation.started", step: step.name, attempt });
    const outcome = await callWithDeadline(
      state.env.clock,
      step.timeoutMs ?? state.env.timeoutMs,
      undefined,
      (scope) =>
        compensate({ ...state.context(j, Math.max(1, st.attempts), scope), output: st.output }),
    );
    const value =
      outcome.status === "ok"
        ? (outcome.value as { status?: unknown; reason?: unknown })
        : undefined;
    if (value?.status === "compensated") {
      st.status = StepStatus.Compensated;
      state.journal.stage(state.entry(step, EntryType.Compensated, attempt));
      state.emit({
        type: "compensation.finished",
        step: step.name,
        attempt,
        result: "compensated",
      });
      return undefined;
    }
    if (value?.status === "guard_failed") {
      const reason = typeof value.reason === "string" ? value.reason : "the guard failed";
      state.journal.stage(
        state.entry(step, EntryType.GuardFailed, attempt, {
          error: { kind: ErrorKind.Conflict, message: reason },
        }),
      );
      state.emit({
        type: "compensation.finished",
        step: step.name,
        attempt,
        result: "guard_failed",
      });
      return needsAttention(
        state,
        j,
        AttentionReason.GuardFailed,
        `The compensation of step "${step.name}" found state it did not write and undid nothing: ${reason}.`,
      );
    }
    const error =
      outcome.status === "error"
        ? outcome.error
        : outcome.status === "ok"
          ? new Error(
              `The compensation of step "${step.name}" returned ${JSON.stringify(outcome.value)}, not compensated() or guardFailed().`,
            )
          : new Error(
              `The compensation of step "${step.name}" did not finish within its deadline.`,
            );
    const kind =
      outcome.status === "timeout"
        ? ErrorKind.Timeout
        : classifyError(error, step.store.classifyError);
    state.journal.stage(
      state.entry(step, EntryType.CompensationFailed, attempt, {
        error: { kind, message: messageOf(error) },
      }),
    );
    state.emit({ type: "compensation.finished", step: step.name, attempt, result: "failed" });
    if (attempt < policy.attempts) {
      await sleep(state.env.clock, backoffDelay(policy, attempt, state.env.random));
    }
  }
  // Out of attempts: stay compensating, free the lease, and let the recoverer retry later.
  await state.write({ releaseLease: true });
  return compensationStuck(state, j);
}

/** The error of a saga whose compensation of step `j` has not succeeded yet. */
function compensationStuck(state: ExecutionState, j: number): DriveResult {
  const step = state.stepAt(j);
  const failed = state.steps.findIndex((s) => s.status === StepStatus.NotCommitted);
  const failedStep = failed < 0 ? undefined : state.stepAt(failed);
  const st = failed < 0 ? undefined : state.stateAt(failed);
  return fail({
    code: ErrorCode.StepFailed,
    message: `Step "${failedStep?.name ?? step.name}" of saga "${state.saga.name}" failed; the compensation of step "${step.name}" has not succeeded yet and the recoverer will retry it.`,
    sagaId: state.sagaId,
    step: failedStep?.name ?? step.name,
    kind: st?.error?.kind ?? ErrorKind.Unknown,
    cause: st?.error,
    report: state.report(),
  });
}
