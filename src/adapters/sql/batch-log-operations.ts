import { StoreError } from "../../core/error-kinds.js";
import { numberEntries } from "../../log/log-rules.js";
import type { CheckedPrune } from "../../log/operations-rules.js";
import type { ClaimedSaga, SagaChange, SagaFilter } from "../../log/saga-log.js";
import type { OperatorEvent } from "../../model/operator-event.js";
import type { NewStepEntry, SagaRecord, SagaStatus, StepEntry } from "../../model/records.js";
import type { BatchCheck, BatchItem, BatchSql } from "./batch-sql.js";
import { eventOf, OperationsStatements, type OperationsTables } from "./operations-statements.js";
import type { OutboxRow, Statement } from "./outbox-statements.js";
import type { LoadedSaga, SagaLogOperations } from "./saga-log-operations.js";
import { SagaLogSql, type SagaLogTableNames } from "./saga-log-sql.js";
import * as logSql from "./saga-log-statements.js";
import {
  type EntryRow,
  entriesOf,
  headerValues,
  listedRecord,
  recordOf,
  type SagaRow,
} from "./saga-rows.js";
import type { SqlDialect } from "./sql-dialect.js";

/** The log's tables, by their quoted names. */
export type BatchLogTables = SagaLogTableNames & OperationsTables;

/** How often a write re-reads a row that another write of the same owner moved on, before giving up. */
const ROW_RACES = 8;

/**
 * Thrown when a saga's row changed between the read a write was planned from and the batch that
 * applies it, under the same fencing token: nothing was applied, and the write can be planned again.
 */
export class RowMovedError extends StoreError {
  constructor(sagaId: string) {
    super(
      "not_committed",
      `Saga "${sagaId}" changed between the read its log write was planned from and the batch that applied it; nothing was applied.`,
    );
    this.name = "RowMovedError";
  }
}

/**
 * The saga log's statements for a SQLite-flavoured database with atomic batches and no locks held
 * across calls (D1; libSQL). A locking write becomes optimistic: it reads the row, plans the change
 * with the log's write rules, and applies it in one batch whose first item checks that the row is
 * still exactly as read (token, status, lease, record and last entry), so the batch applies nothing
 * if anything moved: then a lower token is `stale_token`, anything else is read again.
 *
 * The same batch is what a step's co-committed write appends to: the check is then the fencing
 * check that makes the step's own writes apply nothing when its token is stale.
 */
export class BatchLogOperations implements SagaLogOperations<BatchSql, "async"> {
  readonly #insertHeader: string;
  /** The sagas table's key as SQLite names it when an insert finds it taken. */
  readonly #sagaKey: string;
  readonly #lockedRow: string;
  readonly #sql: SagaLogSql;
  readonly #unchanged: string;
  readonly operations: OperationsStatements;

  constructor(dialect: SqlDialect, tables: BatchLogTables) {
    this.operations = new OperationsStatements(dialect, tables, "on-conflict");
    this.#insertHeader = logSql.insertHeaderSql(dialect, tables.sagas, "fail");
    this.#sagaKey = `${tables.sagas.replaceAll('"', "")}.saga_id`;
    this.#lockedRow = logSql.lockedRowSql(dialect, tables.sagas, tables.entries);
    this.#sql = new SagaLogSql(dialect, tables);
    this.#unchanged = `SELECT 1 FROM ${tables.sagas} WHERE saga_id = ? AND fencing_token = ? AND status = ?
       AND lease_owner IS ? AND lease_expires_at IS ? AND record = ?
       AND (SELECT coalesce(max(seq), 0) FROM ${tables.entries} WHERE saga_id = ?) = ?`;
  }

  /**
   * Inserts the header and its first entries in one batch; a taken id applies nothing. The header's
   * insert is its own check: it fails on the saga id's key, which rolls the whole batch back.
   */
  async create(
    sql: BatchSql,
    record: SagaRecord,
    entries: readonly NewStepEntry[],
  ): Promise<undefined> {
    const numbered = numberEntries(record.sagaId, record.fencingToken, 0, entries);
    const header: BatchCheck = {
      check: "inserted",
      sql: this.#insertHeader,
      params: headerValues(record),
      key: this.#sagaKey,
      lost: async () => logSql.sagaExists(record.sagaId),
    };
    await sql.batch([header, ...this.#entryInserts(record.sagaId, numbered)]);
    return undefined;
  }

  async write(
    sql: BatchSql,
    sagaId: string,
    token: number,
    change: SagaChange,
  ): Promise<undefined> {
    for (let race = 1; ; race++) {
      try {
        await sql.batch(await this.planBatch(sql, sagaId, token, change));
        return undefined;
      } catch (error) {
        if (!(error instanceof RowMovedError) || race >= ROW_RACES) throw error;
      }
    }
  }

  /**
   * Reads the saga's row and returns the batch that applies `change` to it: the check that the row
   * is as read (failing with `stale_token` when its token moved on, with {@link RowMovedError}
   * otherwise), the header's update and the new entries. A co-committed step appends it to its own.
   */
  async planBatch(
    sql: BatchSql,
    sagaId: string,
    token: number,
    change: SagaChange,
  ): Promise<BatchItem[]> {
    const [row] = await sql.all<SagaRow & { readonly last_seq: number }>(this.#lockedRow, [
      sagaId,
      sagaId,
    ]);
    if (row === undefined) throw logSql.sagaNotFound(sagaId);
    const plan = logSql.planWrite(row, row.last_seq, token, change);
    const unchanged: BatchCheck = {
      check: "exists",
      sql: this.#unchanged,
      params: [
        sagaId,
        row.fencing_token,
        row.status,
        row.lease_owner,
        row.lease_expires_at,
        row.record,
        sagaId,
        row.last_seq,
      ],
      lost: async () => {
        const [now] = await sql.all<{ fencing_token: number }>(this.#sql.fencingToken, [sagaId]);
        if (now === undefined) return logSql.sagaNotFound(sagaId);
        return now.fencing_token !== token
          ? logSql.staleToken(sagaId, token)
          : new RowMovedError(sagaId);
      },
    };
    return [
      unchanged,
      { sql: this.#sql.updateHeader, params: [...plan.values, sagaId, token] },
      ...this.#entryInserts(sagaId, plan.entries),
    ];
  }

  /** One statement for all of a write's entries: on D1 every statement of a batch costs. */
  #entryInserts(sagaId: string, entries: readonly StepEntry[]): BatchItem[] {
    const insert = this.#sql.insertEntries(sagaId, entries);
    return insert === undefined ? [] : [insert];
  }

  async acquireLease(
    sql: BatchSql,
    sagaId: string,
    owner: string,
    ttlMs: number,
    now: number,
  ): Promise<number | undefined> {
    const [taken] = await sql.all<{ fencing_token: number }>(
      `${this.#sql.takeLease} RETURNING fencing_token`,
      [owner, now + ttlMs, now, sagaId, now],
    );
    if (taken !== undefined) return taken.fencing_token;
    await this.#mustExist(sql, sagaId);
    return undefined;
  }

  async renewLease(
    sql: BatchSql,
    sagaId: string,
    token: number,
    ttlMs: number,
    now: number,
  ): Promise<boolean> {
    const renewed = await sql.run(this.#sql.renewLease, [now + ttlMs, sagaId, token]);
    if (renewed.changes === 1) return true;
    await this.#mustExist(sql, sagaId);
    return false;
  }

  async releaseLease(sql: BatchSql, sagaId: string, token: number): Promise<void> {
    await sql.run(this.#sql.releaseLease, [sagaId, token]);
  }

  async load(sql: BatchSql, sagaId: string): Promise<LoadedSaga | undefined> {
    // One batch, so the header and the entries are read from one state of the database.
    const [header, entries] = await sql.batch([
      { sql: this.#sql.selectRow, params: [sagaId] },
      { sql: this.#sql.selectEntries, params: [sagaId] },
    ]);
    const row = header?.rows[0] as SagaRow | undefined;
    if (row === undefined) return undefined;
    const record = recordOf(row);
    return {
      snapshot: {
        record,
        entries: entriesOf(sagaId, (entries?.rows ?? []) as unknown as EntryRow[]),
      },
    };
  }

  async claimRecoverable(
    sql: BatchSql,
    owner: string,
    ttlMs: number,
    now: number,
    limit: number,
    names: readonly string[] | undefined,
  ): Promise<ClaimedSaga[]> {
    if (limit === 0 || names?.length === 0) return [];
    const select = this.#sql.claimCandidates(now, limit, names, "saga_id, fencing_token");
    const candidates = await sql.all<{ saga_id: string; fencing_token: number }>(
      select.sql,
      select.params,
    );
    const claimed: ClaimedSaga[] = [];
    for (const candidate of candidates) {
      // Compare-and-set on the token read: a saga another worker claimed since is skipped.
      const [taken] = await sql.all<{ fencing_token: number }>(this.#sql.claimCandidate, [
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

  async quarantine(
    sql: BatchSql,
    sagaId: string,
    problem: { readonly field: string; readonly message: string },
    now: number,
  ): Promise<void> {
    await sql.run(this.#sql.quarantine, this.#sql.quarantineParams(sagaId, problem, now));
  }

  async list(sql: BatchSql, filter: SagaFilter): Promise<SagaRecord[]> {
    const query = this.#sql.list(filter);
    if (query === undefined) return [];
    return (await sql.all<SagaRow>(query.sql, query.params)).map(listedRecord);
  }

  /** Deletes each old terminal saga with its entries, in one batch. */
  async prune(sql: BatchSql, before: number, statuses: readonly SagaStatus[]): Promise<number> {
    const prune = this.#sql.prune(before, statuses);
    if (prune === undefined) return 0;
    const [, deleted] = await sql.batch([
      { sql: prune.entries, params: prune.params },
      { sql: prune.sagas, params: prune.params },
    ]);
    return deleted?.changes ?? 0;
  }

  async rows(sql: BatchSql, statement: Statement): Promise<OutboxRow[]> {
    return sql.all<OutboxRow>(statement.sql, statement.params);
  }

  /** In one batch, which D1 and libSQL apply all-or-nothing. */
  async pruneRecorded(sql: BatchSql, checked: CheckedPrune): Promise<OperatorEvent> {
    const [recorded] = await sql.batch(this.operations.sqlitePrune(checked));
    return eventOf(recorded?.rows[0] ?? {});
  }

  async #mustExist(sql: BatchSql, sagaId: string): Promise<void> {
    const [row] = await sql.all(this.#sql.exists, [sagaId]);
    if (row === undefined) throw logSql.sagaNotFound(sagaId);
  }
}
