import { ErrorCode, lockstepError, type SagaError } from "../core/errors.js";
import type { ExecutionEnv } from "../core/execution-env.js";
import { messageOf } from "../core/message-of.js";
import type { SagaReport } from "../core/report.js";
import { backoffDelay, type RetryPolicy } from "../core/retry.js";
import { SagaLogError } from "../log/saga-log.js";
import type { AttentionReason } from "../model/attention-reason.js";
import { SagaStatus } from "../model/records.js";
import { type GiveUp, stuckReason } from "./give-up.js";
import type { RecoveredSaga, RecoveryOutcome } from "./recovery-report.js";

/** One recovery attempt on a saga that did not finish, to be counted. */
export interface UnfinishedAttempt {
  readonly sagaId: string;
  /** The saga's name. */
  readonly name: string;
  /** The fencing token of the claim this attempt ran under. */
  readonly token: number;
  /** How many recovery attempts the saga had before this one. */
  readonly previous: number;
  /** What the attempt came to, when it is not the last. */
  readonly outcome: RecoveryOutcome;
  readonly report: SagaReport;
  readonly error: SagaError;
  /** Why the saga needs attention if this attempt is its last. */
  readonly reason: AttentionReason;
  /**
   * The step and message its attention names if this attempt is its last.
   * @default the error's step and message
   */
  readonly giveUp?: GiveUp;
}

/**
 * Counts recovery attempts on one recoverer's sagas: each attempt that leaves a saga unfinished
 * (in doubt, compensating, incomplete, or failed because its log refused recovery's writes) pushes
 * its next attempt back by the backoff, and the last one hands the saga to a person, so no saga is
 * claimed again forever.
 */
export function recoveryAttempts(options: {
  readonly env: ExecutionEnv;
  readonly maxAttempts: number;
  readonly backoff: RetryPolicy;
}) {
  const { env, maxAttempts, backoff } = options;

  /** Counts `attempt`; after the last one, ends the saga `needs_attention`. */
  const count = async (attempt: UnfinishedAttempt): Promise<RecoveredSaga> => {
    const { sagaId, name, token, outcome, report, error, reason } = attempt;
    const attempts = attempt.previous + 1;
    const now = env.clock.now();
    try {
      if (attempts >= maxAttempts) {
        const step = attempt.giveUp?.step ?? ("step" in error ? String(error.step) : "");
        const message =
          attempt.giveUp?.message(attempts) ??
          `Recovery gave up after ${attempts} attempts: ${error.message}`;
        await env.log.write(sagaId, token, {
          status: SagaStatus.NeedsAttention,
          attention: { reason, step, message },
          recovery: { attempts, nextAt: now },
          now,
        });
        const final = {
          ...report,
          status: SagaStatus.NeedsAttention,
          attention: { reason, step, message },
        };
        return {
          sagaId,
          saga: name,
          outcome: "needs_attention",
          report: final,
          error: lockstepError({
            code: ErrorCode.NeedsAttention,
            message,
            sagaId,
            step,
            reason,
            report: final,
          }),
        };
      }
      const nextAt = now + backoffDelay(backoff, attempts, env.random);
      await env.log.write(sagaId, token, { recovery: { attempts, nextAt }, now });
    } catch (failure) {
      if (!(SagaLogError.is(failure) && failure.reason === "stale_token")) throw failure;
      // Another recoverer claimed the saga since: its attempt counts, not ours.
    }
    return { sagaId, saga: name, outcome, report, error };
  };

  /**
   * Counts an attempt that threw (the log failed under recovery) like any other, when the log can
   * still say how many the saga had; otherwise the saga is left for its lease to lapse.
   */
  const countThrown = async (
    sagaId: string,
    token: number,
    cause: unknown,
  ): Promise<RecoveredSaga> => {
    const error = lockstepError({
      code: ErrorCode.LogFailed,
      message: `Recovering saga "${sagaId}" failed: ${messageOf(cause)}.`,
      sagaId,
      cause,
    });
    const failed: RecoveredSaga = { sagaId, saga: undefined, outcome: "failed", error };
    try {
      const record = (await env.log.load(sagaId))?.record;
      if (record === undefined) return failed;
      const name = record.definition.name;
      return await count({
        sagaId,
        name,
        token,
        previous: record.recoveryAttempts,
        outcome: "failed",
        report: { sagaId, saga: name, status: record.status, steps: [], outputs: {} },
        error,
        reason: stuckReason(record.status),
      });
    } catch {
      return failed;
    }
  };

  return { count, countThrown };
}
