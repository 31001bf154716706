import { numberEntries } from "../../log/log-rules.js";
import type { ClaimedSaga, SagaChange } from "../../log/saga-log.js";
import type { NewStepEntry, SagaRecord, SagaStatus, StepEntry } from "../../model/records.js";
import { OperationsStatements } from "../sql/operations-statements.js";
import { PooledLogOperations } from "../sql/pooled-log-operations.js";
import type { LoadedSaga, SagaLogOperations } from "../sql/saga-log-operations.js";
import { SagaLogSql } from "../sql/saga-log-sql.js";
import * as logSql from "../sql/saga-log-statements.js";
import {
  type EntryRow,
  entriesOf,
  HEADER_COLUMNS,
  headerValues,
  recordOf,
  sagaRowOf,
} from "../sql/saga-rows.js";
import { mysqlErrnoOf } from "./classify-mysql-error.js";
import { mysqlDialect } from "./mysql-dialect.js";
import type { MysqlScopedSql } from "./mysql-transaction.js";
import type { MysqlSagaLogTables } from "./saga-log-schema.js";

/** Runs one statement through a transaction's connection. */
export type Sql = MysqlScopedSql;

/**
 * The saga log's statements in MySQL, each operation meant to run inside one transaction: the log's
 * own, or, for co-commit, the caller's. MySQL's `UPDATE` returns no rows, so what a Postgres
 * statement returns with `RETURNING` is read back inside the same transaction, which holds the rows
 * it changed.
 */
export class MysqlLogOperations
  extends PooledLogOperations<Sql>
  implements SagaLogOperations<Sql, "async">
{
  readonly #t: MysqlSagaLogTables;
  readonly #insertHeader: string;
  readonly #lockedRow: string;

  constructor(tables: MysqlSagaLogTables) {
    super(
      new SagaLogSql(mysqlDialect, tables),
      new OperationsStatements(mysqlDialect, tables, "on-duplicate-key"),
    );
    this.#t = tables;
    this.#insertHeader = `INSERT INTO ${tables.sagas} (${HEADER_COLUMNS.join(", ")}) VALUES (${HEADER_COLUMNS.map(() => "?").join(", ")})`;
    // `s.*` rather than `*`: MySQL refuses an unqualified `*` beside another column.
    this.#lockedRow = `SELECT s.*, (SELECT COALESCE(MAX(seq), 0) FROM ${tables.entries} WHERE saga_id = ?) AS last_seq
       FROM ${tables.sagas} s WHERE s.saga_id = ?${mysqlDialect.lockRows}`;
  }

  /** Whether every table already exists, checked without taking any lock. */
  async schemaExists(sql: Sql): Promise<boolean> {
    const { rows } = await sql<{ n: number }>(
      `SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${this.#t.database === undefined ? "DATABASE()" : "?"} AND TABLE_NAME IN (${this.#t.names.map(() => "?").join(", ")})`,
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
    const updated = await sql(this.statements.updateHeader, [...plan.values, sagaId, token]);
    if (updated.rowCount !== 1) throw logSql.staleToken(sagaId, token);
    await this.#insertEntries(sql, sagaId, plan.entries);
    return undefined;
  }

  async #insertEntries(sql: Sql, sagaId: string, entries: readonly StepEntry[]): Promise<void> {
    const insert = this.statements.insertEntries(sagaId, entries);
    if (insert !== undefined) await sql(insert.sql, insert.params);
  }

  async acquireLease(
    sql: Sql,
    sagaId: string,
    owner: string,
    ttlMs: number,
    now: number,
  ): Promise<number | undefined> {
    const taken = await sql(this.statements.takeLease, [owner, now + ttlMs, now, sagaId, now]);
    if (taken.rowCount === 1) {
      const { rows } = await sql<{ fencing_token: number }>(this.statements.fencingToken, [sagaId]);
      return Number(rows[0]?.fencing_token);
    }
    await this.mustExist(sql, sagaId);
    return undefined;
  }

  /** Reads the header and its entries; the caller runs it in one snapshot (a read transaction). */
  async load(sql: Sql, sagaId: string): Promise<LoadedSaga | undefined> {
    const { rows } = await sql<Record<string, unknown>>(this.statements.selectRow, [sagaId]);
    const raw = rows[0];
    if (raw === undefined) return undefined;
    const record = recordOf(sagaRowOf(raw));
    const entries = await sql<EntryRow>(this.statements.selectEntries, [sagaId]);
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
    const select = this.statements.claimCandidates(
      now,
      limit,
      names,
      "saga_id",
      "\n       FOR UPDATE SKIP LOCKED",
    );
    const candidates = await sql<{ saga_id: string }>(select.sql, select.params);
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
    return this.deleteSagas(
      sql,
      rows.map((row) => row.saga_id),
    );
  }
}
