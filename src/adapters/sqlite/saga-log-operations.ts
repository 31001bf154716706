import { applyChange, checkWrite, validate } from "../../log/memory-log.js";
import {
  type ClaimedSaga,
  type SagaChange,
  type SagaFilter,
  SagaLogError,
} from "../../log/saga-log.js";
import {
  type EntryRow,
  entriesOf,
  HEADER_COLUMNS,
  headerValues,
  listedFromColumns,
  numberEntries,
  recordOf,
  type SagaRow,
} from "../../log/stored-rows.js";
import type { SagaStatus } from "../../model/records.js";
import {
  type NewStepEntry,
  RECOVERABLE_STATUSES,
  type SagaRecord,
  type SagaSnapshot,
  type StepEntry,
  sagaRecordSchema,
} from "../../model/records.js";
import type { SyncSql } from "./connection.js";
import type { SagaLogTables } from "./saga-log-schema.js";

const placeholders = (count: number) => Array.from({ length: count }, () => "?").join(", ");

// A lease is free when nobody holds it or it has expired; the same rule as the memory log.
const LEASE_FREE = "(lease_owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at <= ?)";

/**
 * The saga log's operations, each a synchronous body meant to run inside one transaction: its own
 * (through the write gate) or, for co-commit, the caller's.
 */
export class SagaLogOperations {
  readonly #t: SagaLogTables;

  constructor(tables: SagaLogTables) {
    this.#t = tables;
  }

  ensureSchema(sql: SyncSql): void {
    sql.exec(this.#t.ddl);
  }

  /** Inserts a validated header and its first entries, numbered from 1 under its fencing token. */
  create(sql: SyncSql, record: SagaRecord, entries: readonly NewStepEntry[] = []): void {
    const numbered = numberEntries(record.sagaId, record.fencingToken, 0, entries);
    const inserted = sql.run(
      `INSERT INTO ${this.#t.sagas} (${HEADER_COLUMNS.join(", ")}) VALUES (${placeholders(HEADER_COLUMNS.length)})
       ON CONFLICT (saga_id) DO NOTHING`,
      headerValues(record),
    );
    if (inserted.changes !== 1) {
      throw new SagaLogError(
        "exists",
        record.sagaId,
        `A saga with id "${record.sagaId}" already exists in the log.`,
      );
    }
    this.#insertEntries(sql, record.sagaId, numbered);
  }

  write(sql: SyncSql, sagaId: string, token: number, change: SagaChange): void {
    const record = recordOf(this.#existing(sql, sagaId));
    checkWrite(record, token, change);
    const last =
      sql.get<{ seq: number | null }>(
        `SELECT max(seq) AS seq FROM ${this.#t.entries} WHERE saga_id = ?`,
        [sagaId],
      )?.seq ?? 0;
    const entries = numberEntries(sagaId, token, last, change.entries ?? []);
    const next = validate(sagaRecordSchema, applyChange(record, change), sagaId);
    const [, ...values] = headerValues(next);
    const updated = sql.run(
      `UPDATE ${this.#t.sagas} SET ${HEADER_COLUMNS.slice(1)
        .map((column) => `${column} = ?`)
        .join(", ")} WHERE saga_id = ? AND fencing_token = ?`,
      [...values, sagaId, token],
    );
    if (updated.changes !== 1) throw stale(sagaId, token);
    this.#insertEntries(sql, sagaId, entries);
  }

  #insertEntries(sql: SyncSql, sagaId: string, entries: readonly StepEntry[]): void {
    for (const entry of entries) {
      sql.run(`INSERT INTO ${this.#t.entries} (saga_id, seq, body) VALUES (?, ?, ?)`, [
        sagaId,
        entry.seq,
        JSON.stringify(entry),
      ]);
    }
  }

  acquireLease(
    sql: SyncSql,
    sagaId: string,
    owner: string,
    ttlMs: number,
    now: number,
  ): number | undefined {
    const taken = sql.get<{ fencing_token: number }>(
      `UPDATE ${this.#t.sagas} SET fencing_token = fencing_token + 1, lease_owner = ?, lease_expires_at = ?, updated_at = ?
       WHERE saga_id = ? AND ${LEASE_FREE} RETURNING fencing_token`,
      [owner, now + ttlMs, now, sagaId, now],
    );
    if (taken !== undefined) return taken.fencing_token;
    this.#existing(sql, sagaId);
    return undefined;
  }

  renewLease(sql: SyncSql, sagaId: string, token: number, ttlMs: number, now: number): boolean {
    const renewed = sql.run(
      `UPDATE ${this.#t.sagas} SET lease_expires_at = ?
       WHERE saga_id = ? AND fencing_token = ? AND lease_owner IS NOT NULL`,
      [now + ttlMs, sagaId, token],
    );
    if (renewed.changes === 1) return true;
    this.#existing(sql, sagaId);
    return false;
  }

  releaseLease(sql: SyncSql, sagaId: string, token: number): void {
    sql.run(
      `UPDATE ${this.#t.sagas} SET lease_owner = NULL, lease_expires_at = NULL
       WHERE saga_id = ? AND fencing_token = ?`,
      [sagaId, token],
    );
  }

  load(sql: SyncSql, sagaId: string): SagaSnapshot | undefined {
    const row = this.#row(sql, sagaId);
    if (row === undefined) return undefined;
    const record = recordOf(row);
    const entries = entriesOf(
      sagaId,
      sql.all<EntryRow>(`SELECT seq, body FROM ${this.#t.entries} WHERE saga_id = ? ORDER BY seq`, [
        sagaId,
      ]),
    );
    return { record, entries };
  }

  claimRecoverable(
    sql: SyncSql,
    owner: string,
    ttlMs: number,
    now: number,
    limit: number,
    names?: readonly string[],
  ): ClaimedSaga[] {
    if (limit === 0 || names?.length === 0) return [];
    const byName = names === undefined ? "" : ` AND name IN (${placeholders(names.length)})`;
    const candidates = sql.all<{ saga_id: string; fencing_token: number }>(
      `SELECT saga_id, fencing_token FROM ${this.#t.sagas}
       WHERE status IN (${placeholders(RECOVERABLE_STATUSES.length)}) AND next_recovery_at <= ? AND ${LEASE_FREE}${byName}
       ORDER BY next_recovery_at, saga_id LIMIT ?`,
      [...RECOVERABLE_STATUSES, now, now, ...(names ?? []), limit],
    );
    const claimed: ClaimedSaga[] = [];
    for (const candidate of candidates) {
      const taken = sql.get<{ fencing_token: number }>(
        `UPDATE ${this.#t.sagas} SET fencing_token = fencing_token + 1, lease_owner = ?, lease_expires_at = ?, updated_at = ?
         WHERE saga_id = ? AND fencing_token = ? AND ${LEASE_FREE} RETURNING fencing_token`,
        [owner, now + ttlMs, now, candidate.saga_id, candidate.fencing_token, now],
      );
      if (taken !== undefined)
        claimed.push({ sagaId: candidate.saga_id, token: taken.fencing_token });
    }
    return claimed;
  }

  quarantine(
    sql: SyncSql,
    sagaId: string,
    problem: { readonly field: string; readonly message: string },
    now: number,
  ): void {
    sql.run(
      `UPDATE ${this.#t.sagas} SET status = 'quarantined', updated_at = ?, problem_field = ?, problem_message = ?, quarantined_at = ?
       WHERE saga_id = ?`,
      [now, String(problem.field), String(problem.message), now, sagaId],
    );
  }

  list(sql: SyncSql, filter: SagaFilter): SagaRecord[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.status !== undefined) {
      if (filter.status.length === 0) return [];
      where.push(`status IN (${placeholders(filter.status.length)})`);
      params.push(...filter.status);
    }
    if (filter.name !== undefined) {
      where.push("name = ?");
      params.push(filter.name);
    }
    let query = `SELECT * FROM ${this.#t.sagas}`;
    if (where.length > 0) query += ` WHERE ${where.join(" AND ")}`;
    query += " ORDER BY saga_id DESC";
    if (filter.limit !== undefined) {
      query += " LIMIT ?";
      params.push(filter.limit);
    }
    return sql.all<SagaRow>(query, params).map((row) => {
      try {
        return recordOf(row);
      } catch (error) {
        if (!SagaLogError.is(error) || error.reason !== "corrupt") throw error;
        return listedFromColumns(row, error.message);
      }
    });
  }

  prune(sql: SyncSql, before: number, statuses: readonly SagaStatus[]): number {
    if (statuses.length === 0) return 0;
    const terminal = `status IN (${placeholders(statuses.length)}) AND updated_at < ?`;
    const params = [...statuses, before];
    sql.run(
      `DELETE FROM ${this.#t.entries} WHERE saga_id IN (SELECT saga_id FROM ${this.#t.sagas} WHERE ${terminal})`,
      params,
    );
    return sql.run(`DELETE FROM ${this.#t.sagas} WHERE ${terminal}`, params).changes;
  }

  #row(sql: SyncSql, sagaId: string): SagaRow | undefined {
    return sql.get<SagaRow>(`SELECT * FROM ${this.#t.sagas} WHERE saga_id = ?`, [sagaId]);
  }

  #existing(sql: SyncSql, sagaId: string): SagaRow {
    const row = this.#row(sql, sagaId);
    if (row === undefined) {
      throw new SagaLogError("not_found", sagaId, `No saga with id "${sagaId}" exists in the log.`);
    }
    return row;
  }
}

function stale(sagaId: string, token: number): SagaLogError {
  return new SagaLogError(
    "stale_token",
    sagaId,
    `Saga "${sagaId}" is no longer owned under fencing token ${token}; the write was refused.`,
  );
}
