import { numberEntries } from "../../log/log-rules.js";
import type { ClaimedSaga, SagaChange, SagaFilter } from "../../log/saga-log.js";
import {
  type NewStepEntry,
  RECOVERABLE_STATUSES,
  type SagaRecord,
  type SagaStatus,
  type StepEntry,
} from "../../model/records.js";
import type { LoadedSaga, SagaLogOperations } from "../sql/saga-log-operations.js";
import * as logSql from "../sql/saga-log-statements.js";
import {
  type EntryRow,
  entriesOf,
  HEADER_COLUMNS,
  headerValues,
  listedRecord,
  recordOf,
  sagaRowOf,
} from "../sql/saga-rows.js";
import { mysqlErrnoOf } from "./classify-mysql-error.js";
import { mysqlDialect } from "./mysql-dialect.js";
import type { MysqlScopedSql } from "./mysql-transaction.js";
import type { MysqlSagaLogTables } from "./saga-log-schema.js";

/** Runs one statement through a transaction's connection. */
export type Sql = MysqlScopedSql;

const LEASE_FREE = logSql.leaseIsFree("?");

/** How many sagas one prune statement deletes. */
const PRUNE_CHUNK = 500;

/**
 * The saga log's statements in MySQL, each operation meant to run inside one transaction: the log's
 * own, or, for co-commit, the caller's. MySQL's `UPDATE` returns no rows, so what a Postgres
 * statement returns with `RETURNING` is read back inside the same transaction, which holds the rows
 * it changed.
 */
export class MysqlLogOperations implements SagaLogOperations<Sql, "async"> {
  readonly #t: MysqlSagaLogTables;
  readonly #insertHeader: string;
  readonly #lockedRow: string;
  readonly #updateHeader: string;

  constructor(tables: MysqlSagaLogTables) {
    this.#t = tables;
    this.#insertHeader = `INSERT INTO ${tables.sagas} (${HEADER_COLUMNS.join(", ")}) VALUES (${HEADER_COLUMNS.map(() => "?").join(", ")})`;
    // `s.*` rather than `*`: MySQL refuses an unqualified `*` beside another column.
    this.#lockedRow = `SELECT s.*, (SELECT COALESCE(MAX(seq), 0) FROM ${tables.entries} WHERE saga_id = ?) AS last_seq
       FROM ${tables.sagas} s WHERE s.saga_id = ?${mysqlDialect.lockRows}`;
    this.#updateHeader = `UPDATE ${tables.sagas} SET ${logSql.headerAssignments(mysqlDialect, 1)} WHERE saga_id = ? AND fencing_token = ?`;
  }

  /** Whether both tables already exist, checked without taking any lock. */
  async schemaExists(sql: Sql): Promise<boolean> {
    const { rows } = await sql<{ n: number }>(
      `SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${this.#t.database === undefined ? "DATABASE()" : "?"} AND TABLE_NAME IN (?, ?)`,
      this.#t.database === undefined ? this.#t.names : [this.#t.database, ...this.#t.names],
    );
    return Number(rows[0]?.n) === this.#t.names.length;
  }

  /** Creates the missing tables, holding a named lock so processes starting at once take turns. */
  async createSchema(sql: Sql): Promise<void> {
    const { rows } = await sql<{ got: number | null }>("SELECT GET_LOCK(?, 30) AS got", [
      this.#t.lockKey,
    ]);
    if (Number(rows[0]?.got) !== 1) {
      throw new Error(`Could not take the lock "${this.#t.lockKey}" to create the log's tables.`);
    }
    try {
      for (const statement of this.#t.ddl) await sql(statement);
    } finally {
      await sql("SELECT RELEASE_LOCK(?)", [this.#t.lockKey]);
    }
  }

  /** Inserts a validated header and its first entries, numbered from 1 under its fencing token. */
  async create(sql: Sql, record: SagaRecord, entries: readonly NewStepEntry[]): Promise<undefined> {
    const numbered = numberEntries(record.sagaId, record.fencingToken, 0, entries);
    try {
      await sql(this.#insertHeader, headerValues(record));
    } catch (error) {
      // A duplicate key: the statement alone is rolled back, and the saga exists.
      if (mysqlErrnoOf(error) === 1062) throw logSql.sagaExists(record.sagaId);
      throw error;
    }
    await this.#insertEntries(sql, record.sagaId, numbered);
    return undefined;
  }

  /**
   * Applies a change; `sql` must be inside a transaction, which holds the saga row until it ends.
   * Reads and validates the row under `FOR UPDATE` first, so every refusal is exact.
   */
  async write(sql: Sql, sagaId: string, token: number, change: SagaChange): Promise<undefined> {
    const { rows } = await sql<Record<string, unknown>>(this.#lockedRow, [sagaId, sagaId]);
    const raw = rows[0];
    if (raw === undefined) throw logSql.sagaNotFound(sagaId);
    const plan = logSql.planWrite(sagaRowOf(raw), Number(raw.last_seq), token, change);
    const updated = await sql(this.#updateHeader, [...plan.values, sagaId, token]);
    if (updated.rowCount !== 1) throw logSql.staleToken(sagaId, token);
    await this.#insertEntries(sql, sagaId, plan.entries);
    return undefined;
  }

  async #insertEntries(sql: Sql, sagaId: string, entries: readonly StepEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const params: unknown[] = [];
    for (const entry of entries) params.push(sagaId, entry.seq, JSON.stringify(entry));
    await sql(
      `INSERT INTO ${this.#t.entries} (saga_id, seq, body) VALUES ${entries.map(() => "(?, ?, ?)").join(", ")}`,
      params,
    );
  }

  async acquireLease(
    sql: Sql,
    sagaId: string,
    owner: string,
    ttlMs: number,
    now: number,
  ): Promise<number | undefined> {
    const taken = await sql(
      `UPDATE ${this.#t.sagas} SET fencing_token = fencing_token + 1, lease_owner = ?, lease_expires_at = ?, updated_at = ?
       WHERE saga_id = ? AND ${LEASE_FREE}`,
      [owner, now + ttlMs, now, sagaId, now],
    );
    if (taken.rowCount === 1) {
      const { rows } = await sql<{ fencing_token: number }>(
        `SELECT fencing_token FROM ${this.#t.sagas} WHERE saga_id = ?`,
        [sagaId],
      );
      return Number(rows[0]?.fencing_token);
    }
    await this.#mustExist(sql, sagaId);
    return undefined;
  }

  async renewLease(
    sql: Sql,
    sagaId: string,
    token: number,
    ttlMs: number,
    now: number,
  ): Promise<boolean> {
    const renewed = await sql(
      `UPDATE ${this.#t.sagas} SET lease_expires_at = ?
       WHERE saga_id = ? AND fencing_token = ? AND lease_owner IS NOT NULL`,
      [now + ttlMs, sagaId, token],
    );
    if (renewed.rowCount === 1) return true;
    await this.#mustExist(sql, sagaId);
    return false;
  }

  async releaseLease(sql: Sql, sagaId: string, token: number): Promise<void> {
    await sql(
      `UPDATE ${this.#t.sagas} SET lease_owner = NULL, lease_expires_at = NULL
       WHERE saga_id = ? AND fencing_token = ?`,
      [sagaId, token],
    );
  }

  /** Reads the header and its entries; the caller runs it in one snapshot (a read transaction). */
  async load(sql: Sql, sagaId: string): Promise<LoadedSaga | undefined> {
    const { rows } = await sql<Record<string, unknown>>(
      `SELECT * FROM ${this.#t.sagas} WHERE saga_id = ?`,
      [sagaId],
    );
    const raw = rows[0];
    if (raw === undefined) return undefined;
    const record = recordOf(sagaRowOf(raw));
    const entries = await sql<EntryRow>(
      `SELECT seq, body FROM ${this.#t.entries} WHERE saga_id = ? ORDER BY seq`,
      [sagaId],
    );
    return {
      snapshot: {
        record,
        entries: entriesOf(
          sagaId,
          entries.rows.map((e) => ({ seq: Number(e.seq), body: String(e.body) })),
        ),
      },
    };
  }

  /**
   * Claims inside one transaction: the candidate rows are locked with `FOR UPDATE SKIP LOCKED`, so
   * claimers in other processes skip each other's candidates instead of waiting for them or taking
   * them too; the locked rows are then leased by primary key and their new tokens read back.
   */
  async claimRecoverable(
    sql: Sql,
    owner: string,
    ttlMs: number,
    now: number,
    limit: number,
    names: readonly string[] | undefined,
  ): Promise<ClaimedSaga[]> {
    if (limit === 0 || names?.length === 0) return [];
    const params: unknown[] = [];
    const recoverable = mysqlDialect.anyOf("status", RECOVERABLE_STATUSES, params);
    params.push(now, now);
    const byName = names === undefined ? "" : ` AND ${mysqlDialect.anyOf("name", names, params)}`;
    params.push(limit);
    const candidates = await sql<{ saga_id: string }>(
      `SELECT saga_id FROM ${this.#t.sagas}
       WHERE ${recoverable} AND next_recovery_at <= ? AND ${LEASE_FREE}${byName}
       ORDER BY next_recovery_at, saga_id LIMIT ?
       FOR UPDATE SKIP LOCKED`,
      params,
    );
    const ids = candidates.rows.map((row) => row.saga_id);
    if (ids.length === 0) return [];
    const list = ids.map(() => "?").join(", ");
    await sql(
      `UPDATE ${this.#t.sagas} SET fencing_token = fencing_token + 1, lease_owner = ?, lease_expires_at = ?, updated_at = ?
       WHERE saga_id IN (${list})`,
      [owner, now + ttlMs, now, ...ids],
    );
    const { rows } = await sql<{ saga_id: string; fencing_token: number }>(
      `SELECT saga_id, fencing_token FROM ${this.#t.sagas} WHERE saga_id IN (${list})`,
      ids,
    );
    const tokens = new Map(rows.map((row) => [row.saga_id, Number(row.fencing_token)]));
    return ids.map((sagaId) => ({ sagaId, token: tokens.get(sagaId) as number }));
  }

  async quarantine(
    sql: Sql,
    sagaId: string,
    problem: { readonly field: string; readonly message: string },
    now: number,
  ): Promise<void> {
    await sql(
      `UPDATE ${this.#t.sagas} SET status = 'quarantined', updated_at = ?, problem_field = ?, problem_message = ?, quarantined_at = ?
       WHERE saga_id = ?`,
      [now, String(problem.field), String(problem.message), now, sagaId],
    );
  }

  async list(sql: Sql, filter: SagaFilter): Promise<SagaRecord[]> {
    const query = logSql.listStatement(mysqlDialect, this.#t.sagas, filter);
    if (query === undefined) return [];
    const { rows } = await sql<Record<string, unknown>>(query.sql, query.params);
    return rows.map((raw) => listedRecord(sagaRowOf(raw)));
  }

  /**
   * Deletes old terminal sagas and their entries, in the caller's transaction: the sagas are locked
   * first, so exactly the entries of the sagas deleted go with them.
   */
  async prune(sql: Sql, before: number, statuses: readonly SagaStatus[]): Promise<number> {
    if (statuses.length === 0 || before === Number.NEGATIVE_INFINITY) return 0;
    const params: unknown[] = [];
    let where = mysqlDialect.anyOf("status", statuses, params);
    if (before !== Number.POSITIVE_INFINITY) {
      where += " AND updated_at < ?";
      params.push(before);
    }
    const { rows } = await sql<{ saga_id: string }>(
      `SELECT saga_id FROM ${this.#t.sagas} WHERE ${where} FOR UPDATE`,
      params,
    );
    let deleted = 0;
    for (let at = 0; at < rows.length; at += PRUNE_CHUNK) {
      const ids = rows.slice(at, at + PRUNE_CHUNK).map((row) => row.saga_id);
      const list = ids.map(() => "?").join(", ");
      await sql(`DELETE FROM ${this.#t.entries} WHERE saga_id IN (${list})`, ids);
      deleted += (await sql(`DELETE FROM ${this.#t.sagas} WHERE saga_id IN (${list})`, ids))
        .rowCount;
    }
    return deleted;
  }

  async #mustExist(sql: Sql, sagaId: string): Promise<void> {
    const { rows } = await sql(`SELECT 1 FROM ${this.#t.sagas} WHERE saga_id = ?`, [sagaId]);
    if (rows.length === 0) throw logSql.sagaNotFound(sagaId);
  }
}
