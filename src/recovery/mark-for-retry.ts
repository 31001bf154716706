import type { Clock } from "../core/clock.js";
import { systemClock } from "../core/clock.js";
import { type SagaLog, SagaLogError } from "../log/saga-log.js";
import { AttentionReason } from "../model/attention-reason.js";
import {
  EntryType,
  type OperatorAction,
  operatorEntry,
  type SagaSnapshot,
  SagaStatus,
} from "../model/records.js";

/** What {@link markForRetry} did, or why it did nothing. */
export type RetryMarking =
  | {
      readonly marked: true;
      /** The status the saga is back in, where recovery picks it up. */
      readonly status: SagaStatus;
      /** The fencing token the marking raised the saga to. */
      readonly token: number;
    }
  | {
      readonly marked: false;
      /**
       * `not_found`: no such saga; `not_needs_attention`: the saga does not wait for a person;
       * `lease_held`: a runner holds its lease; `changed`: it changed between the read and the write.
       */
      readonly reason: "not_found" | "not_needs_attention" | "lease_held" | "changed";
      /** A full sentence for the operator. */
      readonly message: string;
    };

/**
 * The status a saga that needed attention goes back to, so that recovery resumes where it stopped:
 * `in_doubt` for a probe that never could tell, `compensating` once any compensation was logged (a
 * saga that began undoing never goes forward again), `running` otherwise.
 */
export function retryStatus(snapshot: SagaSnapshot): SagaStatus {
  if (snapshot.record.attention?.reason === AttentionReason.InDoubtExhausted) {
    return SagaStatus.InDoubt;
  }
  const undoing = snapshot.entries.some(
    (e) =>
      e.type === EntryType.CompensationIntent ||
      e.type === EntryType.Compensated ||
      e.type === EntryType.CompensationSkipped ||
      e.type === EntryType.CompensationFailed ||
      e.type === EntryType.GuardFailed,
  );
  return undoing ? SagaStatus.Compensating : SagaStatus.Running;
}

/**
 * Hands a saga that needs attention back to recovery, after a person fixed what stopped it: in one
 * log write, under a fencing token raised by one (so anything still holding the old token is
 * refused), it records `operator` as an operator entry, puts the saga back in {@link retryStatus},
 * clears its attention and lease, and resets its recovery attempts, due now. Refuses, changing
 * nothing, a saga that does not need attention or whose lease a runner holds; a saga that changed
 * since it was read is refused by the log's compare-and-set.
 *
 * @example
 * ```ts
 * const marking = await markForRetry(log, sagaId, { actor: "ops@example.com", action: "retry", note: "capture refunded by hand" });
 * if (!marking.marked) console.error(marking.message);
 * ```
 */
export async function markForRetry(
  log: SagaLog,
  sagaId: string,
  operator: OperatorAction,
  clock: Clock = systemClock,
): Promise<RetryMarking> {
  const snapshot = await log.load(sagaId);
  if (snapshot === undefined) {
    return {
      marked: false,
      reason: "not_found",
      message: `No saga with id "${sagaId}" is in the log.`,
    };
  }
  const { record } = snapshot;
  const now = clock.now();
  if (record.status !== SagaStatus.NeedsAttention) {
    return {
      marked: false,
      reason: "not_needs_attention",
      message: `Saga "${sagaId}" is ${record.status}, not needs_attention; only a saga waiting for a person can be marked for retry.`,
    };
  }
  if (record.leaseOwner !== null && (record.leaseExpiresAt ?? 0) > now) {
    return {
      marked: false,
      reason: "lease_held",
      message: `Saga "${sagaId}" is leased to "${record.leaseOwner}" until ${new Date(record.leaseExpiresAt ?? 0).toISOString()}; nothing was changed.`,
    };
  }
  const status = retryStatus(snapshot);
  try {
    await log.write(sagaId, record.fencingToken, {
      entries: [operatorEntry(operator, now)],
      status,
      expectStatus: [SagaStatus.NeedsAttention],
      releaseLease: true,
      fence: true,
      recovery: { attempts: 0, nextAt: now },
      now,
    });
  } catch (error) {
    if (
      SagaLogError.is(error) &&
      (error.reason === "stale_token" || error.reason === "status_mismatch")
    ) {
      return {
        marked: false,
        reason: "changed",
        message: `Saga "${sagaId}" changed while it was being marked (${error.message}); nothing was changed.`,
      };
    }
    throw error;
  }
  return { marked: true, status, token: record.fencingToken + 1 };
}
