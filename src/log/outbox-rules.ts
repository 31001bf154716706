import {
  type NewOutboxMessage,
  type OutboxRecord,
  OutboxStatus,
  outboxRecordSchema,
} from "../model/outbox.js";
import { validateLogRecord } from "./log-rules.js";
import type { DeliveryFailure } from "./outbox-log.js";

/**
 * The record a log stores for a message recorded at `now`: pending, due at once, never claimed.
 * Validated, so nothing invalid becomes durable (`SagaLogError("corrupt")` naming the field).
 * Every log that records outbox messages builds them here.
 */
export function newOutboxRecord(message: NewOutboxMessage, now: number): OutboxRecord {
  return validateLogRecord(
    outboxRecordSchema,
    {
      messageId: message.messageId,
      sagaId: message.sagaId,
      step: message.step,
      index: message.index,
      topic: message.topic,
      message: message.message,
      headers: message.headers,
      status: OutboxStatus.Pending,
      attempts: 0,
      nextAt: now,
      token: 0,
      leaseOwner: null,
      leaseExpiresAt: null,
      lastError: null,
      createdAt: now,
      deliveredAt: null,
    },
    message.sagaId,
  );
}

/** Whether a relay may claim `record` at `now`: pending, due, and its lease free or expired. */
export function isClaimable(record: OutboxRecord, now: number): boolean {
  return (
    record.status === OutboxStatus.Pending &&
    record.nextAt <= now &&
    (record.leaseExpiresAt === null || record.leaseExpiresAt <= now)
  );
}

/** Whether a relay holding `token` still owns `record`'s claim: only then may it renew or mark it. */
export function holdsClaim(record: OutboxRecord, token: number): boolean {
  return (
    record.status === OutboxStatus.Pending && record.token === token && record.leaseOwner !== null
  );
}

/** `record` after a failed delivery: another try scheduled, or dead; the claim freed either way. */
export function afterFailure(record: OutboxRecord, failure: DeliveryFailure): OutboxRecord {
  return {
    ...record,
    status: failure.dead ? OutboxStatus.Dead : OutboxStatus.Pending,
    attempts: record.attempts + 1,
    nextAt: failure.dead ? record.nextAt : failure.nextAt,
    leaseOwner: null,
    leaseExpiresAt: null,
    lastError: failure.error,
  };
}
