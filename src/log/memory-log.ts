import type { z } from "zod";
import { LockstepDefinitionError } from "../model/definition-error.js";
import {
  firstIssuePath,
  type NewStepEntry,
  PRUNABLE_STATUSES,
  RECOVERABLE_STATUSES,
  type SagaRecord,
  type SagaSnapshot,
  type SagaStatus,
  SCHEMA_VERSION,
  type StepEntry,
  sagaRecordSchema,
  stepEntrySchema,
  TERMINAL_STATUSES,
} from "../model/records.js";
import {
  type ClaimedSaga,
  type ClaimFilter,
  type SagaChange,
  type SagaFilter,
  type SagaLog,
  SagaLogError,
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
  readonly #sagas = new Map<string, Stored>();

  async create(record: SagaRecord, entries: readonly NewStepEntry[] = []): Promise<void> {
    const valid = validate(sagaRecordSchema, record, record.sagaId);
    if (this.#sagas.has(valid.sagaId)) {
      throw new SagaLogError(
        "exists",
        valid.sagaId,
        `A saga with id "${valid.sagaId}" already exists in the log.`,
      );
    }
    this.#sagas.set(valid.sagaId, { record: JSON.stringify(valid), entries: [] });
    if (entries.length > 0)
      await this.write(record.sagaId, record.fencingToken, { entries, now: record.createdAt });
  }

  async write(sagaId: string, token: number, change: SagaChange): Promise<void> {
    const stored = this.#get(sagaId);
    const record = readRecord(stored, sagaId);
    checkWrite(record, token, change);
    const entries = (change.entries ?? []).map((entry, i) =>
      validate(
        stepEntrySchema,
        {
          ...entry,
          schemaVersion: SCHEMA_VERSION,
          sagaId,
          seq: stored.entries.length + i + 1,
          token,
        },
        sagaId,
      ),
    );
    const next = applyChange(record, change);
    validate(sagaRecordSchema, next, sagaId);
    stored.entries.push(...entries.map((e) => JSON.stringify(e)));
    stored.record = JSON.stringify(next);
  }

  async acquireLease(
    sagaId: string,
    owner: string,
    ttlMs: number,
    now: number,
  ): Promise<number | undefined> {
    const stored = this.#get(sagaId);
    const record = readRecord(stored, sagaId);
    if (record.leaseOwner !== null && (record.leaseExpiresAt ?? 0) > now) return undefined;
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
      validate(stepEntrySchema, JSON.parse(text), sagaId),
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
    stored.record = JSON.stringify({ ...body, status: "quarantined", updatedAt: now });
  }

  async list(filter: SagaFilter = {}): Promise<readonly SagaRecord[]> {
    const out: SagaRecord[] = [];
    for (const [sagaId, stored] of this.#sagas) {
      const record = readRecord(stored, sagaId);
      if (filter.status && !filter.status.includes(record.status)) continue;
      if (filter.name !== undefined && record.definition.name !== filter.name) continue;
      out.push(record);
    }
    out.sort((a, b) => (a.sagaId < b.sagaId ? 1 : -1));
    return filter.limit === undefined ? out : out.slice(0, filter.limit);
  }

  async prune(
    before: number,
    statuses: readonly SagaStatus[] = PRUNABLE_STATUSES,
  ): Promise<number> {
    const prunable = prunableStatuses(statuses);
    let removed = 0;
    for (const [sagaId, stored] of this.#sagas) {
      const record = readRecord(stored, sagaId);
      if (prunable.includes(record.status) && record.updatedAt < before) {
        this.#sagas.delete(sagaId);
        removed++;
      }
    }
    return removed;
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
  return validate(sagaRecordSchema, JSON.parse(stored.record), sagaId);
}

/** Validates a record or entry, turning a failure into a `corrupt` log error naming the field. */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  sagaId: string,
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const field = firstIssuePath(parsed.error);
    throw new SagaLogError(
      "corrupt",
      sagaId,
      `A log record of saga "${sagaId}" is invalid at \`${field}\`: ${parsed.error.issues[0]?.message ?? "invalid"}.`,
      { field, cause: parsed.error },
    );
  }
  return parsed.data;
}

/** Checks that only terminal statuses are pruned: pruning a live saga would lose work in flight. */
export function prunableStatuses(statuses: readonly SagaStatus[]): readonly SagaStatus[] {
  const live = statuses.filter((status) => !TERMINAL_STATUSES.includes(status));
  if (live.length > 0) {
    throw new LockstepDefinitionError(
      `Only terminal sagas can be pruned; ${live.map((s) => `"${s}"`).join(", ")} ${live.length === 1 ? "is" : "are"} not terminal.`,
    );
  }
  return statuses;
}

/** Refuses a write from a stale owner or against an unexpected status. Shared by every log. */
export function checkWrite(record: SagaRecord, token: number, change: SagaChange): void {
  if (record.fencingToken !== token) {
    throw new SagaLogError(
      "stale_token",
      record.sagaId,
      `Saga "${record.sagaId}" is now owned under fencing token ${record.fencingToken}; a write with token ${token} was refused.`,
    );
  }
  if (change.expectStatus && !change.expectStatus.includes(record.status)) {
    throw new SagaLogError(
      "status_mismatch",
      record.sagaId,
      `Saga "${record.sagaId}" is ${record.status}, not ${change.expectStatus.join(" or ")}; the write was refused.`,
    );
  }
}

/** The saga record after `change`. Shared by every log. */
export function applyChange(record: SagaRecord, change: SagaChange): SagaRecord {
  return {
    ...record,
    status: change.status ?? record.status,
    attention: change.attention ?? (change.status === undefined ? record.attention : null),
    leaseOwner: change.releaseLease ? null : record.leaseOwner,
    leaseExpiresAt: change.releaseLease ? null : record.leaseExpiresAt,
    recoveryAttempts: change.recovery?.attempts ?? record.recoveryAttempts,
    nextRecoveryAt: change.recovery?.nextAt ?? record.nextRecoveryAt,
    updatedAt: change.now,
  };
}
