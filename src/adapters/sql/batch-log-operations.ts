import { StoreError } from "../../core/error-kinds.js";
import { numberEntries } from "../../log/log-rules.js";
import type { ClaimedSaga, SagaChange, SagaFilter } from "../../log/saga-log.js";
import {
  type NewStepEntry,
  RECOVERABLE_STATUSES,
  type SagaRecord,
  type SagaStatus,
  type StepEntry,
} from "../../model/records.js";
import type { BatchCheck, BatchItem, BatchSql } from "./batch-sql.js";
import type { LoadedSaga, SagaLogOperations } from "./saga-log-operations.js";
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

/** The log's two tables, by their quoted names. */
export interface BatchLogTables {
  readonly sagas: string;
  readonly entries: string;
}

const LEASE_FREE = logSql.leaseIsFree("?");

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
  readonly #t: BatchLogTables;
  readonly #dialect: SqlDialect;
  readonly #insertHeader: string;
  readonly #lockedRow: string;
  readonly #updateHeader: string;
  readonly #insertEntry: string;
  readonly #unchanged: string;

  constructor(dialect: SqlDialect, tables: BatchLogTables) {
    this.#t = tables;
    this.#dialect = dialect;
    this.#insertHeader = logSql.insertHeaderSql(dialect, tables.sagas);
    this.#lockedRow = logSql.lockedRowSql(dialect, tables.sagas, tables.entries);
    this.#updateHeader = `UPDATE ${tables.sagas} SET ${logSql.headerAssignments(dialect, 1)} WHERE saga_id = ? AND fencing_token = ?`;
    this.#insertEntry = `INSERT INTO ${tables.entries} (saga_id, seq, body) VALUES`;
    this.#unchanged = `SELECT 1 FROM ${tables.sagas} WHERE saga_id = ? AND fencing_token = ? AND status = ?
       AND lease_owner IS ? AND lease_expires_at IS ? AND record = ?
       AND (SELECT coalesce(max(seq), 0) FROM ${tables.entries} WHERE saga_id = ?) = ?`;
  }

  /** Inserts the header and its first entries in one batch; a taken id applies nothing. */
  async create(
    sql: BatchSql,
    record: SagaRecord,
    entries: readonly NewStepEntry[],
  ): Promise<undefined> {
    const numbered = numberEntries(record.sagaId, record.fencingToken, 0, entries);
    const exists: BatchCheck = {
      check: "changed",
      lost: async () => logSql.sagaExists(record.sagaId),
    };
    await sql.batch([
      { sql: this.#insertHeader, params: headerValues(record) },
      exists,
      ...this.#entryInserts(record.sagaId, numbered),
    ]);
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
        const [now] = await sql.all<{ fencing_token: number }>(
          `SELECT fencing_token FROM ${this.#t.sagas} WHERE saga_id = ?`,
          [sagaId],
        );
        if (now === undefined) return logSql.sagaNotFound(sagaId);
        return now.fencing_token !== token
          ? logSql.staleToken(sagaId, token)
          : new RowMovedError(sagaId);
      },
    };
    return [
      unchanged,
      { sql: this.#updateHeader, params: [...plan.values, sagaId, token] },
      ...this.#entryInserts(sagaId, plan.entries),
    ];
  }

  /** One statement for all of a write's entries: on D1 every statement of a batch costs. */
  #entryInserts(sagaId: string, entries: readonly StepEntry[]): BatchItem[] {
    if (entries.length === 0) return [];
    return [
      {
        sql: `${this.#insertEntry} ${entries.map(() => "(?, ?, ?)").join(", ")}`,
        params: entries.flatMap((entry) => [sagaId, entry.seq, JSON.stringify(entry)]),
      },
    ];
  }

  async acquireLease(
    sql: BatchSql,
    sagaId: string,
    owner: string,
    ttlMs: number,
    now: number,
  ): Promise<number | undefined> {
    const [taken] = await sql.all<{ fencing_token: number }>(
      `UPDATE ${this.#t.sagas} SET fencing_token = fencing_token + 1, lease_owner = ?, lease_expires_at = ?, updated_at = ?
       WHERE saga_id = ? AND ${LEASE_FREE} RETURNING fencing_token`,
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
    const renewed = await sql.run(
      `UPDATE ${this.#t.sagas} SET lease_expires_at = ?
       WHERE saga_id = ? AND fencing_token = ? AND lease_owner IS NOT NULL`,
      [now + ttlMs, sagaId, token],
    );
    if (renewed.changes === 1) return true;
    await this.#mustExist(sql, sagaId);
    return false;
  }

  async releaseLease(sql: BatchSql, sagaId: string, token: number): Promise<void> {
    await sql.run(
      `UPDATE ${this.#t.sagas} SET lease_owner = NULL, lease_expires_at = NULL
       WHERE saga_id = ? AND fencing_token = ?`,
      [sagaId, token],
    );
  }

  async load(sql: BatchSql, sagaId: string): Promise<LoadedSaga | undefined> {
    // One batch, so the header and the entries are read from one state of the database.
    const [header, entries] = await sql.batch([
      { sql: `SELECT * FROM ${this.#t.sagas} WHERE saga_id = ?`, params: [sagaId] },
      {
        sql: `SELECT seq, body FROM ${this.#t.entries} WHERE saga_id = ? ORDER BY seq`,
        params: [sagaId],
      },
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
    const params: unknown[] = [];
    const recoverable = this.#dialect.anyOf("status", RECOVERABLE_STATUSES, params);
    params.push(now, now);
    const byName = names === undefined ? "" : ` AND ${this.#dialect.anyOf("name", names, params)}`;
    params.push(limit);
    const candidates = await sql.all<{ saga_id: string; fencing_token: number }>(
      `SELECT saga_id, fencing_token FROM ${this.#t.sagas}
       WHERE ${recoverable} AND next_recovery_at <= ? AND ${LEASE_FREE}${byName}
       ORDER BY next_recovery_at, saga_id LIMIT ?`,
      params,
    );
    const claimed: ClaimedSaga[] = [];
    for (const candidate of candidates) {
      // Compare-and-set on the token read: a saga another worker claimed since is skipped.
      const [taken] = await sql.all<{ fencing_token: number }>(
        `UPDATE ${this.#t.sagas} SET fencing_token = fencing_token + 1, lease_owner = ?, lease_expires_at = ?, updated_at = ?
         WHERE saga_id = ? AND fencing_token = ? AND ${LEASE_FREE} RETURNING fencing_token`,
        [owner, now + ttlMs, now, candidate.saga_id, candidate.fencing_token, now],
      );
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
    await sql.run(
      `UPDATE ${this.#t.sagas} SET status = 'quarantined', updated_at = ?, problem_field = ?, problem_message = ?, quarantined_at = ?
       WHERE saga_id = ?`,
      [now, String(problem.field), String(problem.message), now, sagaId],
    );
  }

  async list(sql: BatchSql, filter: SagaFilter): Promise<SagaRecord[]> {
    const query = logSql.listStatement(this.#dialect, this.#t.sagas, filter);
    if (query === undefined) return [];
    return (await sql.all<SagaRow>(query.sql, query.params)).map(listedRecord);
  }

  /** Deletes each old terminal saga with its entries, in one batch. */
  async prune(sql: BatchSql, before: number, statuses: readonly SagaStatus[]): Promise<number> {
    if (statuses.length === 0) return 0;
    const params: unknown[] = [];
    const terminal = `${this.#dialect.anyOf("status", statuses, params)} AND updated_at < ?`;
    params.push(before);
    const [, deleted] = await sql.batch([
      {
        sql: `DELETE FROM ${this.#t.entries} WHERE saga_id IN (SELECT saga_id FROM ${this.#t.sagas} WHERE ${terminal})`,
        params,
      },
      { sql: `DELETE FROM ${this.#t.sagas} WHERE ${terminal}`, params },
    ]);
    return deleted?.changes ?? 0;
  }

  async #mustExist(sql: BatchSql, sagaId: string): Promise<void> {
    const [row] = await sql.all(`SELECT 1 AS found FROM ${this.#t.sagas} WHERE saga_id = ?`, [
      sagaId,
    ]);
    if (row === undefined) throw logSql.sagaNotFound(sagaId);
  }
}
