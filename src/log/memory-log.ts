import { AttentionReason } from "../model/attention-reason.js";
import type { NewOutboxMessage } from "../model/outbox.js";
import {
  type NewStepEntry,
  PRUNABLE_STATUSES,
  RECOVERABLE_STATUSES,
  type SagaRecord,
  type SagaSnapshot,
  type SagaStatus,
  type StepEntry,
  sagaRecordSchema,
  stepEntrySchema,
} from "../model/records.js";
import {
  applyChange,
  checkListFilter,
  checkWrite,
  isLeaseFree,
  matchesListFilter,
  numberEntries,
  prunableStatuses,
  validateLogRecord,
} from "./log-rules.js";
import { MemoryOperations, type MemoryPruned } from "./memory-operations.js";
import { MemoryOutbox } from "./memory-outbox.js";
import { type CheckedPrune, leaseHeld } from "./operations-rules.js";
import {
  type ClaimedSaga,
  type ClaimFilter,
  type SagaChange,
  type SagaFilter,
  type SagaLog,
  SagaLogError,
  SagaOrder,
} from "./saga-log.js";

interface Stored {
  record: string;
  entries: string[];
  /** Set when the saga was quarantined: what was wrong and the body as it was. */
  quarantined?: { field: string; message: string; at: number; body: string };
}

/**
 * A saga log held in process memory. Records are validated and stored as JSON text, exactly as a
 * durable log would keep them, so what a step returns must survive a JSON round trip here too.
 * It does not survive a restart: use it for tests, the testing kit, and sagas whose stores are
 * themselves in memory.
 */
export class MemorySagaLog implements SagaLog {
  /** A memory log is lost with its process. */
  readonly durable = false;
  /** The messages steps published, recorded in the same write as the step's commit. */
  readonly outbox = new MemoryOutbox();
  /** Operator events and recovery workers' reports. */
  readonly operations = new MemoryOperations((checked) => this.#pruneHeld(checked));
  readonly #sagas = new Map<string, Stored>();

  async create(
    record: SagaRecord,
    entries: readonly NewStepEntry[] = [],
    messages: readonly NewOutboxMessage[] = [],
  ): Promise<void> {
    const valid = validateLogRecord(sagaRecordSchema, record, record.sagaId);
    if (this.#sagas.has(valid.sagaId)) {
      throw new SagaLogError(
        "exists",
        valid.sagaId,
        `A saga with id "${valid.sagaId}" already exists in the log.`,
      );
    }
    // Checked before anything is stored: a refused message leaves no saga behind.
    this.outbox.prepare(messages, record.createdAt);
    this.#sagas.set(valid.sagaId, { record: JSON.stringify(valid), entries: [] });
    if (entries.length > 0 || messages.length > 0) {
      await this.write(record.sagaId, record.fencingToken, {
        entries,
        messages,
        now: record.createdAt,
      });
    }
  }

  async write(sagaId: string, token: number, change: SagaChange): Promise<void> {
    const stored = this.#get(sagaId);
    const record = readRecord(stored, sagaId);
    checkWrite(record, token, change, stored.entries.length);
    const entries = numberEntries(sagaId, token, stored.entries.length, change.entries ?? []);
    const next = applyChange(record, change);
    validateLogRecord(sagaRecordSchema, next, sagaId);
    const outboxed = this.outbox.prepare(change.messages ?? [], change.now);
    stored.entries.push(...entries.map((e) => JSON.stringify(e)));
    stored.record = JSON.stringify(next);
    this.outbox.store(outboxed);
  }

  async acquireLease(
    sagaId: string,
    owner: string,
    ttlMs: number,
    now: number,
  ): Promise<number | undefined> {
    const stored = this.#get(sagaId);
    const record = readRecord(stored, sagaId);
    if (!isLeaseFree(record, now)) return undefined;
    const token = record.fencingToken + 1;
    stored.record = JSON.stringify({
      ...record,
      fencingToken: token,
      leaseOwner: owner,
      leaseExpiresAt: now + ttlMs,
      updatedAt: now,
    });
    return token;
  }

  async renewLease(sagaId: string, token: number, ttlMs: number, now: number): Promise<boolean> {
    const stored = this.#get(sagaId);
    const record = readRecord(stored, sagaId);
    if (record.fencingToken !== token || record.leaseOwner === null) return false;
    stored.record = JSON.stringify({ ...record, leaseExpiresAt: now + ttlMs });
    return true;
  }

  async releaseLease(sagaId: string, token: number): Promise<void> {
    const stored = this.#sagas.get(sagaId);
    if (stored === undefined) return;
    const record = readRecord(stored, sagaId);
    if (record.fencingToken !== token) return;
    stored.record = JSON.stringify({ ...record, leaseOwner: null, leaseExpiresAt: null });
  }

  async load(sagaId: string): Promise<SagaSnapshot | undefined> {
    const stored = this.#sagas.get(sagaId);
    if (stored === undefined) return undefined;
    const record = readRecord(stored, sagaId);
    const entries = stored.entries.map((text) =>
      validateLogRecord(stepEntrySchema, JSON.parse(text), sagaId),
    ) as StepEntry[];
    return { record, entries };
  }

  async claimRecoverable(
    owner: string,
    ttlMs: number,
    now: number,
    limit: number,
    filter: ClaimFilter = {},
  ): Promise<readonly ClaimedSaga[]> {
    const claimed: ClaimedSaga[] = [];
    for (const [sagaId, stored] of this.#sagas) {
      if (claimed.length >= limit) break;
      let record: SagaRecord;
      try {
        record = readRecord(stored, sagaId);
      } catch {
        continue;
      }
      if (!RECOVERABLE_STATUSES.includes(record.status) || record.nextRecoveryAt > now) continue;
      if (filter.names !== undefined && !filter.names.includes(record.definition.name)) continue;
      const token = await this.acquireLease(sagaId, owner, ttlMs, now);
      if (token !== undefined) claimed.push({ sagaId, token });
    }
    return claimed;
  }

  async quarantine(
    sagaId: string,
    problem: { field: string; message: string },
    now: number,
  ): Promise<void> {
    const stored = this.#sagas.get(sagaId);
    if (stored === undefined) return;
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(stored.record) as Record<string, unknown>;
    } catch {
      // The body is not even JSON: keep what can be kept; the quarantine marker is what matters.
    }
    stored.quarantined = { ...problem, at: now, body: stored.record };
    const attention = body.attention ?? {
      reason: AttentionReason.CorruptRecord,
      step: "",
      message: `Quarantined at \`${problem.field}\`: ${problem.message}`,
    };
    stored.record = JSON.stringify({ ...body, status: "quarantined", attention, updatedAt: now });
  }

  async list(filter: SagaFilter = {}): Promise<readonly SagaRecord[]> {
    const order = checkListFilter(filter);
    const out: SagaRecord[] = [];
    for (const [sagaId, stored] of this.#sagas) {
      const record = readRecord(stored, sagaId);
      if (matchesListFilter(record, filter, order)) out.push(record);
    }
    const time =
      order === SagaOrder.Updated ? (r: SagaRecord) => r.updatedAt : (r: SagaRecord) => r.createdAt;
    out.sort((a, b) => time(b) - time(a) || (a.sagaId < b.sagaId ? 1 : -1));
    return filter.limit === undefined ? out : out.slice(0, filter.limit);
  }

  async prune(
    before: number,
    statuses: readonly SagaStatus[] = PRUNABLE_STATUSES,
  ): Promise<number> {
    const prunable = prunableStatuses(statuses);
    return this.#delete((record) => prunable.includes(record.status) && record.updatedAt < before)
      .length;
  }

  /** An operator's prune: as `prune`, but leaving sagas whose lease is held. */
  #pruneHeld(checked: CheckedPrune): MemoryPruned {
    let skipped = 0;
    const deleted = this.#delete((record) => {
      if (!checked.statuses.includes(record.status) || record.updatedAt >= checked.before) {
        return false;
      }
      const held = leaseHeld(record, checked.now);
      if (held) skipped++;
      return !held;
    });
    return { deleted, skipped };
  }

  /** Deletes every saga `matches`, with its settled outbox messages; returns their ids. */
  #delete(matches: (record: SagaRecord) => boolean): string[] {
    const deleted: string[] = [];
    for (const [sagaId, stored] of this.#sagas) {
      if (matches(readRecord(stored, sagaId))) {
        this.#sagas.delete(sagaId);
        this.outbox.forgetSaga(sagaId);
        deleted.push(sagaId);
      }
    }
    return deleted;
  }

  /** How many sagas the log holds. */
  get size(): number {
    return this.#sagas.size;
  }

  #get(sagaId: string): Stored {
    const stored = this.#sagas.get(sagaId);
    if (stored === undefined) {
      throw new SagaLogError("not_found", sagaId, `No saga with id "${sagaId}" exists in the log.`);
    }
    return stored;
  }
}

function readRecord(stored: Stored, sagaId: string): SagaRecord {
  return validateLogRecord(sagaRecordSchema, JSON.parse(stored.record), sagaId);
}
