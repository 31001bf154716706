import { numberEntries } from "../../log/log-rules.js";
import type { CheckedPrune } from "../../log/operations-rules.js";
import type { ClaimedSaga, SagaChange, SagaFilter } from "../../log/saga-log.js";
import type { OperatorEvent } from "../../model/operator-event.js";
import type { NewOutboxMessage } from "../../model/outbox.js";
import type { NewStepEntry, SagaRecord, SagaStatus, StepEntry } from "../../model/records.js";
import { eventOf, OperationsStatements } from "../sql/operations-statements.js";
import { type OutboxRow, OutboxStatements, type Statement } from "../sql/outbox-statements.js";
import type { LoadedSaga, SagaLogOperations } from "../sql/saga-log-operations.js";
import { SagaLogSql } from "../sql/saga-log-sql.js";
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

/**
 * The saga log's statements in SQLite, each a synchronous body meant to run inside one transaction:
 * its own (through the write gate, `BEGIN IMMEDIATE`, which already holds the database's write lock,
 * so a locking write reads its row with a plain `SELECT`) or, for co-commit, the caller's.
 */
export class SqliteLogOperations implements SagaLogOperations<SyncSql, "sync"> {
  readonly #t: SagaLogTables;
  readonly #insertHeader: string;
  readonly #lockedRow: string;
  readonly #sql: SagaLogSql;
  readonly #insertEntry: string;
  readonly outbox: OutboxStatements;
  readonly operations: OperationsStatements;

  constructor(tables: SagaLogTables) {
    this.#t = tables;
    this.operations = new OperationsStatements(sqliteDialect, tables, "on-conflict");
    this.outbox = new OutboxStatements(sqliteDialect, tables.outbox, tables.sagas);
    this.#insertHeader = logSql.insertHeaderSql(sqliteDialect, tables.sagas);
    this.#lockedRow = logSql.lockedRowSql(sqliteDialect, tables.sagas, tables.entries);
    this.#sql = new SagaLogSql(sqliteDialect, tables);
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
    const updated = sql.run(this.#sql.updateHeader, [...plan.values, sagaId, token]);
    if (updated.changes !== 1) throw logSql.staleToken(sagaId, token);
    this.#insertEntries(sql, sagaId, plan.entries);
    for (const statement of outboxed) sql.run(statement.sql, statement.params);
  }

  rows(sql: SyncSql, statement: Statement): OutboxRow[] {
    return sql.all<OutboxRow>(statement.sql, statement.params);
  }

  /** In the log's write transaction, which holds the database's write lock throughout. */
  pruneRecorded(sql: SyncSql, checked: CheckedPrune): OperatorEvent {
    const [record, ...deletes] = this.operations.sqlitePrune(checked);
    const recorded = sql.all<OutboxRow>(record.sql, record.params);
    for (const statement of deletes) sql.run(statement.sql, statement.params);
    return eventOf(recorded[0] ?? {});
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
      `${this.#sql.takeLease} RETURNING fencing_token`,
      [owner, now + ttlMs, now, sagaId, now],
    );
    if (taken !== undefined) return taken.fencing_token;
    this.#mustExist(sql, sagaId);
    return undefined;
  }

  renewLease(sql: SyncSql, sagaId: string, token: number, ttlMs: number, now: number): boolean {
    const renewed = sql.run(this.#sql.renewLease, [now + ttlMs, sagaId, token]);
    if (renewed.changes === 1) return true;
    this.#mustExist(sql, sagaId);
    return false;
  }

  releaseLease(sql: SyncSql, sagaId: string, token: number): void {
    sql.run(this.#sql.releaseLease, [sagaId, token]);
  }

  load(sql: SyncSql, sagaId: string): LoadedSaga | undefined {
    const row = this.#row(sql, sagaId);
    if (row === undefined) return undefined;
    const record = recordOf(row);
    const entries = entriesOf(sagaId, sql.all<EntryRow>(this.#sql.selectEntries, [sagaId]));
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
    const select = this.#sql.claimCandidates(now, limit, names, "saga_id, fencing_token");
    const candidates = sql.all<{ saga_id: string; fencing_token: number }>(
      select.sql,
      select.params,
    );
    const claimed: ClaimedSaga[] = [];
    for (const candidate of candidates) {
      const taken = sql.get<{ fencing_token: number }>(this.#sql.claimCandidate, [
        owner,
        now + ttlMs,
        now,
        candidate.saga_id,
        candidate.fencing_token,
        now,
      ]);
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
    sql.run(this.#sql.quarantine, this.#sql.quarantineParams(sagaId, problem, now));
  }

  list(sql: SyncSql, filter: SagaFilter): SagaRecord[] {
    const query = this.#sql.list(filter);
    if (query === undefined) return [];
    return sql.all<SagaRow>(query.sql, query.params).map(listedRecord);
  }

  prune(sql: SyncSql, before: number, statuses: readonly SagaStatus[]): number {
    const prune = this.#sql.prune(before, statuses);
    if (prune === undefined) return 0;
    sql.run(prune.entries, prune.params);
    return sql.run(prune.sagas, prune.params).changes;
  }

  #row(sql: SyncSql, sagaId: string): SagaRow | undefined {
    return sql.get<SagaRow>(this.#sql.selectRow, [sagaId]);
  }

  #mustExist(sql: SyncSql, sagaId: string): void {
    if (this.#row(sql, sagaId) === undefined) throw logSql.sagaNotFound(sagaId);
  }
}
