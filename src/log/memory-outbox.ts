import { type NewOutboxMessage, type OutboxRecord, OutboxStatus } from "../model/outbox.js";
import type { ClaimedMessage, DeliveryFailure, OutboxFilter, OutboxLog } from "./outbox-log.js";
import { afterFailure, holdsClaim, isClaimable, newOutboxRecord } from "./outbox-rules.js";
import { SagaLogError } from "./saga-log.js";

/**
 * The outbox of a {@link MemorySagaLog}: messages kept in insertion order, each claim a
 * compare-and-set on the message's token. The memory log records messages here only inside its
 * own atomic writes.
 */
export class MemoryOutbox implements OutboxLog {
  readonly #messages = new Map<string, OutboxRecord>();

  /**
   * Builds the records of `messages` without storing them, refusing an id already recorded, so the
   * log can check every part of a write before it changes anything.
   */
  prepare(messages: readonly NewOutboxMessage[], now: number): OutboxRecord[] {
    const records = messages.map((m) => newOutboxRecord(m, now));
    const ids = new Set<string>();
    for (const record of records) {
      if (this.#messages.has(record.messageId) || ids.has(record.messageId)) {
        throw new SagaLogError(
          "exists",
          record.sagaId,
          `The outbox already holds a message with id "${record.messageId}".`,
        );
      }
      ids.add(record.messageId);
    }
    return records;
  }

  /** Stores records made by {@link MemoryOutbox.prepare}. */
  store(records: readonly OutboxRecord[]): void {
    for (const record of records) this.#messages.set(record.messageId, record);
  }

  /** Forgets the messages of sagas that were pruned, once none of them is pending. */
  forgetSaga(sagaId: string): void {
    for (const [id, record] of this.#messages) {
      if (record.sagaId === sagaId && record.status !== OutboxStatus.Pending) {
        this.#messages.delete(id);
      }
    }
  }

  async claim(
    owner: string,
    ttlMs: number,
    now: number,
    limit: number,
  ): Promise<readonly ClaimedMessage[]> {
    const claimed: ClaimedMessage[] = [];
    for (const record of this.#messages.values()) {
      if (claimed.length >= limit) break;
      if (!isClaimable(record, now)) continue;
      const next = {
        ...record,
        token: record.token + 1,
        leaseOwner: owner,
        leaseExpiresAt: now + ttlMs,
      };
      this.#messages.set(record.messageId, next);
      claimed.push({ record: next, token: next.token });
    }
    return claimed;
  }

  async renew(messageId: string, token: number, ttlMs: number, now: number): Promise<boolean> {
    const record = this.#messages.get(messageId);
    if (record === undefined || !holdsClaim(record, token)) return false;
    this.#messages.set(messageId, { ...record, leaseExpiresAt: now + ttlMs });
    return true;
  }

  async delivered(messageId: string, token: number, now: number): Promise<boolean> {
    const record = this.#messages.get(messageId);
    if (record === undefined || !holdsClaim(record, token)) return false;
    this.#messages.set(messageId, {
      ...record,
      status: OutboxStatus.Delivered,
      attempts: record.attempts + 1,
      leaseOwner: null,
      leaseExpiresAt: null,
      deliveredAt: now,
    });
    return true;
  }

  async failed(
    messageId: string,
    token: number,
    failure: DeliveryFailure,
    _now: number,
  ): Promise<boolean> {
    const record = this.#messages.get(messageId);
    if (record === undefined || !holdsClaim(record, token)) return false;
    this.#messages.set(messageId, afterFailure(record, failure));
    return true;
  }

  async messages(filter: OutboxFilter = {}): Promise<readonly OutboxRecord[]> {
    const out: OutboxRecord[] = [];
    for (const record of this.#messages.values()) {
      if (filter.sagaId !== undefined && record.sagaId !== filter.sagaId) continue;
      if (filter.status !== undefined && !filter.status.includes(record.status)) continue;
      out.push(record);
    }
    return filter.limit === undefined ? out : out.slice(0, filter.limit);
  }

  async requeue(messageId: string, now: number): Promise<boolean> {
    const record = this.#messages.get(messageId);
    if (record === undefined || record.status !== OutboxStatus.Dead) return false;
    this.#messages.set(messageId, {
      ...record,
      status: OutboxStatus.Pending,
      attempts: 0,
      nextAt: now,
    });
    return true;
  }
}
