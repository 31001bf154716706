import { ErrorCode, type SagaError } from "../core/errors.js";
import type { StuckCompensation } from "../core/execution-state.js";
import { AttentionReason } from "../model/attention-reason.js";
import { SagaStatus } from "../model/records.js";

/** What a saga's attention says when recovery gives up on it: the step, and the message. */
export interface GiveUp {
  /** The step that needs a person; empty when the saga as a whole does. */
  readonly step: string;
  /** The message, given how many attempts recovery made. */
  readonly message: (attempts: number) => string;
}

/** Why a saga recovery could not move ends `needs_attention`, by the status it was left in. */
export function stuckReason(status: SagaStatus): AttentionReason {
  if (status === SagaStatus.Compensating) return AttentionReason.CompensationFailed;
  if (status === SagaStatus.InDoubt) return AttentionReason.InDoubtExhausted;
  return AttentionReason.ForwardFailed;
}

/**
 * How recovery gives up on a saga whose compensation kept failing: it names the step whose
 * compensation failed, since that is where a person must act, and the step that failed (or the
 * cancellation) that started the compensating. `undefined` when no compensation ran out of
 * attempts in the drive, which leaves the error's own step and message.
 */
export function compensationGiveUp(
  error: SagaError,
  stuck: StuckCompensation | undefined,
): GiveUp | undefined {
  if (stuck === undefined) return undefined;
  const why =
    error.code === ErrorCode.StepFailed
      ? `step "${error.step}" had failed`
      : "the run had been cancelled";
  return {
    step: stuck.step,
    message: (attempts) =>
      `Recovery gave up after ${attempts} attempts: the compensation of step "${stuck.step}" kept failing (${stuck.error.message}), so what step "${stuck.step}" and the steps before it wrote is still in place; ${why}.`,
  };
}
