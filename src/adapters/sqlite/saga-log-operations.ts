import { numberEntries } from "../../log/log-rules.js";
import type { ClaimedSaga, SagaChange, SagaFilter } from "../../log/saga-log.js";
import type { NewOutboxMessage } from "../../model/outbox.js";
import {
  type NewStepEntry,
  RECOVERABLE_STATUSES,
  type SagaRecord,
  type SagaStatus,
  type StepEntry,
} from "../../model/records.js";
import { type OutboxRow, OutboxStatements, type Statement } from "../sql/outbox-statements.js";
import type { LoadedSaga, SagaLogOperations } from "../sql/saga-log-operations.js";
import * as logSql from "../sql/saga-log-statements.js";
import {
  type EntryRow,
  entriesOf,
  headerValues,
  listedRecord,
  recordOf,
  type SagaRow,
} from "../sql/saga-rows.js";
import type { SyncSql } from "./connection.js";
import type { SagaLogTables } from "./saga-log-schema.js";
import { sqliteDialect } from "./sqlite-dialect.js";

const LEASE_FREE = logSql.leaseIsFree("?");

/**
 * The saga log's statements in SQLite, each a synchronous body meant to run inside one transaction:
 * its own (through the write gate, `BEGIN IMMEDIATE`, which already holds the database's write lock,
 * so a locking write reads its row with a plain `SELECT`) or, for co-commit, the caller's.
 */
export class SqliteLogOperations implements SagaLogOperations<SyncSql, "sync"> {
  readonly #t: SagaLogTables;
  readonly #insertHeader: string;
  readonly #lockedRow: string;
  readonly #updateHeader: string;
  readonly #insertEntry: string;
  readonly outbox: OutboxStatements;

  constructor(tables: SagaLogTables) {
    this.#t = tables;
    this.outbox = new OutboxStatements(sqliteDialect, tables.outbox, tables.sagas);
    this.#insertHeader = logSql.insertHeaderSql(sqliteDialect, tables.sagas);
    this.#lockedRow = logSql.lockedRowSql(sqliteDialect, tables.sagas, tables.entries);
    this.#updateHeader = `UPDATE ${tables.sagas} SET ${logSql.headerAssignments(sqliteDialect, 1)} WHERE saga_id = ? AND fencing_token = ?`;
    this.#insertEntry = `INSERT INTO ${tables.entries} (saga_id, seq, body) VALUES (?, ?, ?)`;
  }

  ensureSchema(sql: SyncSql): void {
    sql.exec(this.#t.ddl);
  }

  /** Inserts a validated header and its first entries, numbered from 1 under its fencing token. */
  create(
    sql: SyncSql,
    record: SagaRecord,
    entries: readonly NewStepEntry[],
    messages: readonly NewOutboxMessage[],
  ): undefined {
    const numbered = numberEntries(record.sagaId, record.fencingToken, 0, entries);
    const outboxed = this.outbox.insert(messages, record.updatedAt);
    const inserted = sql.run(this.#insertHeader, headerValues(record));
    if (inserted.changes !== 1) throw logSql.sagaExists(record.sagaId);
    this.#insertEntries(sql, record.sagaId, numbered);
    for (const statement of outboxed) sql.run(statement.sql, statement.params);
  }

  write(sql: SyncSql, sagaId: string, token: number, change: SagaChange): undefined {
    const row = sql.get<SagaRow & { readonly last_seq: number }>(this.#lockedRow, [sagaId, sagaId]);
    if (row === undefined) throw logSql.sagaNotFound(sagaId);
    const plan = logSql.planWrite(row, row.last_seq, token, change);
    const outboxed = this.outbox.insert(change.messages ?? [], change.now);
    const updated = sql.run(this.#updateHeader, [...plan.values, sagaId, token]);
    if (updated.changes !== 1) throw logSql.staleToken(sagaId, token);
    this.#insertEntries(sql, sagaId, plan.entries);
    for (const statement of outboxed) sql.run(statement.sql, statement.params);
  }

  rows(sql: SyncSql, statement: Statement): OutboxRow[] {
    return sql.all<OutboxRow>(statement.sql, statement.params);
  }

  #insertEntries(sql: SyncSql, sagaId: string, entries: readonly StepEntry[]): void {
    for (const entry of entries) {
      sql.run(this.#insertEntry, [sagaId, entry.seq, JSON.stringify(entry)]);
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
    this.#mustExist(sql, sagaId);
    return undefined;
  }

  renewLease(sql: SyncSql, sagaId: string, token: number, ttlMs: number, now: number): boolean {
    const renewed = sql.run(
      `UPDATE ${this.#t.sagas} SET lease_expires_at = ?
       WHERE saga_id = ? AND fencing_token = ? AND lease_owner IS NOT NULL`,
      [now + ttlMs, sagaId, token],
    );
    if (renewed.changes === 1) return true;
    this.#mustExist(sql, sagaId);
    return false;
  }

  releaseLease(sql: SyncSql, sagaId: string, token: number): void {
    sql.run(
      `UPDATE ${this.#t.sagas} SET lease_owner = NULL, lease_expires_at = NULL
       WHERE saga_id = ? AND fencing_token = ?`,
      [sagaId, token],
    );
  }

  load(sql: SyncSql, sagaId: string): LoadedSaga | undefined {
    const row = this.#row(sql, sagaId);
    if (row === undefined) return undefined;
    const record = recordOf(row);
    const entries = entriesOf(
      sagaId,
      sql.all<EntryRow>(`SELECT seq, body FROM ${this.#t.entries} WHERE saga_id = ? ORDER BY seq`, [
        sagaId,
      ]),
    );
    return { snapshot: { record, entries } };
  }

  claimRecoverable(
    sql: SyncSql,
    owner: string,
    ttlMs: number,
    now: number,
    limit: number,
    names: readonly string[] | undefined,
  ): ClaimedSaga[] {
    if (limit === 0 || names?.length === 0) return [];
    const params: unknown[] = [];
    const recoverable = sqliteDialect.anyOf("status", RECOVERABLE_STATUSES, params);
    params.push(now, now);
    const byName = names === undefined ? "" : ` AND ${sqliteDialect.anyOf("name", names, params)}`;
    params.push(limit);
    const candidates = sql.all<{ saga_id: string; fencing_token: number }>(
      `SELECT saga_id, fencing_token FROM ${this.#t.sagas}
       WHERE ${recoverable} AND next_recovery_at <= ? AND ${LEASE_FREE}${byName}
       ORDER BY next_recovery_at, saga_id LIMIT ?`,
      params,
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
    const query = logSql.listStatement(sqliteDialect, this.#t.sagas, filter);
    if (query === undefined) return [];
    return sql.all<SagaRow>(query.sql, query.params).map(listedRecord);
  }

  prune(sql: SyncSql, before: number, statuses: readonly SagaStatus[]): number {
    if (statuses.length === 0) return 0;
    const params: unknown[] = [];
    const terminal = `${sqliteDialect.anyOf("status", statuses, params)} AND updated_at < ?`;
    params.push(before);
    sql.run(
      `DELETE FROM ${this.#t.entries} WHERE saga_id IN (SELECT saga_id FROM ${this.#t.sagas} WHERE ${terminal})`,
      params,
    );
    return sql.run(`DELETE FROM ${this.#t.sagas} WHERE ${terminal}`, params).changes;
  }

  #row(sql: SyncSql, sagaId: string): SagaRow | undefined {
    return sql.get<SagaRow>(`SELECT * FROM ${this.#t.sagas} WHERE saga_id = ?`, [sagaId]);
  }

  #mustExist(sql: SyncSql, sagaId: string): void {
    if (this.#row(sql, sagaId) === undefined) throw logSql.sagaNotFound(sagaId);
  }
}
