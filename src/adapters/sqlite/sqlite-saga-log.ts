import { assertInteger, assertName, assertNumber, describeValue } from "../../core/validate.js";
import { prunableStatuses, validate } from "../../log/memory-log.js";
import {
  type ClaimedSaga,
  type ClaimFilter,
  type CoCommitLog,
  type SagaChange,
  type SagaFilter,
  type SagaLog,
  SagaLogError,
} from "../../log/saga-log.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import {
  type NewStepEntry,
  PRUNABLE_STATUSES,
  type SagaStatus as PrunableStatus,
  type SagaRecord,
  type SagaSnapshot,
  sagaRecordSchema,
} from "../../model/records.js";
import type { SyncSql } from "./connection.js";
import { engineOf, type SqliteDatabase } from "./open-sqlite.js";
import { SagaLogOperations } from "./saga-log-operations.js";
import { sagaLogTables } from "./saga-log-schema.js";
import type { SqliteEngine } from "./sqlite-engine.js";
import type { SqliteHandle } from "./sqlite-handle.js";
import { transactionScopeOf } from "./transaction-context.js";

const INSIDE_TRANSACTION = "write log records inside a transaction with log.coCommit.write(tx, …)";

/** Options of {@link sqliteSagaLog}. */
export interface SqliteSagaLogOptions {
  /**
   * Prepended to the log's table names (`<prefix>sagas`, `<prefix>saga_entries`), so several logs,
   * or a log and an application's own tables, can share one database. Letters, digits and
   * underscores only.
   *
   * @default "lockstep_"
   * @example `sqliteSagaLog(db, { tablePrefix: "billing_" })`
   */
  readonly tablePrefix?: string;
}

/** A saga log stored in SQLite, able to commit its records inside a `sqliteStore` transaction. */
export interface SqliteSagaLog extends SagaLog {
  /**
   * Writes log records inside a transaction of `sqliteStore(db)` (its `storeId` is that store's id),
   * checking the fencing token in the same transaction, so a step's writes and its record commit or
   * roll back together. `tx` must be a transaction (or savepoint) handle of the same database file.
   *
   * @example
   * ```ts
   * await store.transaction(async (tx) => {
   *   await tx.run("INSERT INTO orders (id) VALUES (?)", [orderId]);
   *   await log.coCommit.write(tx, sagaId, token, { entries: [committedEntry], now: Date.now() });
   * }, scope);
   * ```
   */
  readonly coCommit: CoCommitLog<SqliteHandle>;
}

/**
 * Opens the saga log on a database from `openSqlite`, creating its tables if they do not exist
 * (`CREATE TABLE IF NOT EXISTS`; safe to call on every start).
 *
 * Every operation runs in one SQLite transaction: writes through the database's write gate, reads in
 * a read transaction beside it. Records are validated against the zod schemas when written and when
 * read. Recovery selects and leases sagas by indexed columns without parsing their JSON bodies, so a
 * corrupt saga never stops the others from being claimed:
 *
 * - `load` of a saga whose body fails validation, or whose schema version is unknown, throws
 *   `SagaLogError("corrupt")` naming the field;
 * - `quarantine` marks such a saga by its columns and keeps its body as it was, with the problem;
 * - `list` never throws for one bad row: a saga whose body cannot be read is listed as rebuilt from
 *   its columns, with no steps, `input: null` and `attention.reason` `"corrupt_record"`;
 * - `acquireLease`, `renewLease`, `releaseLease` and `claimRecoverable` work on the columns alone.
 *
 * Entries are numbered from 1 per saga. `prune` deletes old terminal sagas and their entries in one
 * transaction.
 *
 * @example
 * ```ts
 * const db = openSqlite("app.db");
 * const runner = createRunner({ log: sqliteSagaLog(db) });
 * ```
 */
export function sqliteSagaLog(
  db: SqliteDatabase,
  options: SqliteSagaLogOptions = {},
): SqliteSagaLog {
  const engine = engineOf(db);
  const operations = new SagaLogOperations(sagaLogTables(options.tablePrefix ?? "lockstep_"));
  return new SqliteSagaLogImpl(engine, operations);
}

class SqliteSagaLogImpl implements SqliteSagaLog {
  readonly coCommit: CoCommitLog<SqliteHandle>;
  readonly #engine: SqliteEngine;
  readonly #operations: SagaLogOperations;
  #schema: Promise<void> | undefined;
  #schemaReady = false;

  constructor(engine: SqliteEngine, operations: SagaLogOperations) {
    this.#engine = engine;
    this.#operations = operations;
    this.coCommit = Object.freeze({
      storeId: engine.id,
      create: (tx: SqliteHandle, record: SagaRecord, entries: readonly NewStepEntry[] = []) =>
        this.#coCommitCreate(tx, record, entries),
      write: (tx: SqliteHandle, sagaId: string, token: number, change: SagaChange) =>
        this.#coCommitWrite(tx, sagaId, token, change),
    });
    // Created now so the tables exist before the first co-committed write; a failure here (say, a
    // transaction is open in this context) is retried by the first operation.
    this.#ensureSchema().catch(() => {});
  }

  async create(record: SagaRecord, entries: readonly NewStepEntry[] = []): Promise<void> {
    const valid = validate(sagaRecordSchema, record, record.sagaId);
    await this.#write(valid.sagaId, (sql) => this.#operations.create(sql, valid, entries));
  }

  async write(sagaId: string, token: number, change: SagaChange): Promise<void> {
    await this.#write(sagaId, (sql) => this.#operations.write(sql, sagaId, token, change));
  }

  async acquireLease(
    sagaId: string,
    owner: string,
    ttlMs: number,
    now: number,
  ): Promise<number | undefined> {
    assertName("owner", owner);
    assertInteger("ttlMs", ttlMs, 0);
    assertInteger("now", now, 0);
    return this.#write(sagaId, (sql) =>
      this.#operations.acquireLease(sql, sagaId, owner, ttlMs, now),
    );
  }

  async renewLease(sagaId: string, token: number, ttlMs: number, now: number): Promise<boolean> {
    assertInteger("ttlMs", ttlMs, 0);
    assertInteger("now", now, 0);
    return this.#write(sagaId, (sql) =>
      this.#operations.renewLease(sql, sagaId, token, ttlMs, now),
    );
  }

  async releaseLease(sagaId: string, token: number): Promise<void> {
    await this.#write(sagaId, (sql) => this.#operations.releaseLease(sql, sagaId, token));
  }

  async load(sagaId: string): Promise<SagaSnapshot | undefined> {
    return this.#read(sagaId, (sql) => this.#operations.load(sql, sagaId));
  }

  async claimRecoverable(
    owner: string,
    ttlMs: number,
    now: number,
    limit: number,
    filter: ClaimFilter = {},
  ): Promise<readonly ClaimedSaga[]> {
    assertName("owner", owner);
    assertInteger("ttlMs", ttlMs, 0);
    assertInteger("now", now, 0);
    assertInteger("limit", limit, 0);
    return this.#write("", (sql) =>
      this.#operations.claimRecoverable(sql, owner, ttlMs, now, limit, filter.names),
    );
  }

  async quarantine(
    sagaId: string,
    problem: { readonly field: string; readonly message: string },
    now: number,
  ): Promise<void> {
    assertInteger("now", now, 0);
    await this.#write(sagaId, (sql) => this.#operations.quarantine(sql, sagaId, problem, now));
  }

  async list(filter: SagaFilter = {}): Promise<readonly SagaRecord[]> {
    if (filter.limit !== undefined) assertInteger("limit", filter.limit, 0);
    return this.#read("", (sql) => this.#operations.list(sql, filter));
  }

  async prune(
    before: number,
    statuses: readonly PrunableStatus[] = PRUNABLE_STATUSES,
  ): Promise<number> {
    const prunable = prunableStatuses(statuses);
    assertNumber("before", before, Number.NEGATIVE_INFINITY);
    return this.#write("", (sql) => this.#operations.prune(sql, before, prunable));
  }

  async #coCommitCreate(
    tx: SqliteHandle,
    record: SagaRecord,
    entries: readonly NewStepEntry[],
  ): Promise<void> {
    const sql = this.#scopedSql(tx);
    const valid = validate(sagaRecordSchema, record, record.sagaId);
    try {
      if (!this.#schemaReady) this.#operations.ensureSchema(sql);
      this.#operations.create(sql, valid, entries);
    } catch (error) {
      throw this.#logError(error, valid.sagaId);
    }
  }

  async #coCommitWrite(
    tx: SqliteHandle,
    sagaId: string,
    token: number,
    change: SagaChange,
  ): Promise<void> {
    const sql = this.#scopedSql(tx);
    try {
      if (!this.#schemaReady) this.#operations.ensureSchema(sql);
      this.#operations.write(sql, sagaId, token, change);
    } catch (error) {
      throw this.#logError(error, sagaId);
    }
  }

  /** The statement runner of a transaction handle of this log's database; refuses any other. */
  #scopedSql(tx: SqliteHandle): SyncSql {
    const scope = transactionScopeOf(tx);
    if (scope === undefined || scope.context.owner.gate !== this.#engine.gate) {
      throw new LockstepDefinitionError(
        `Expected \`tx\` to be a transaction handle of "${this.#engine.id}" (from sqliteStore(db).transaction), got ${scope === undefined ? describeValue(tx) : `a transaction handle of "${scope.context.owner.id}"`}.`,
      );
    }
    return scope.sql;
  }

  async #write<T>(sagaId: string, body: (sql: SyncSql) => T): Promise<T> {
    try {
      await this.#ensureSchema();
      return await this.#engine.writeSync("A saga log call", body, INSIDE_TRANSACTION);
    } catch (error) {
      throw this.#logError(error, sagaId);
    }
  }

  async #read<T>(sagaId: string, body: (sql: SyncSql) => T): Promise<T> {
    try {
      await this.#ensureSchema();
      return await this.#engine.readSync("A saga log call", body, INSIDE_TRANSACTION);
    } catch (error) {
      throw this.#logError(error, sagaId);
    }
  }

  async #ensureSchema(): Promise<void> {
    if (this.#schemaReady) return;
    this.#schema ??= this.#engine
      .writeSync("Creating the saga log's tables", (sql) => this.#operations.ensureSchema(sql))
      .then(() => {
        this.#schemaReady = true;
      });
    try {
      await this.#schema;
    } catch (error) {
      this.#schema = undefined;
      throw error;
    }
  }

  #logError(error: unknown, sagaId: string): SagaLogError {
    if (SagaLogError.is(error)) return error;
    return new SagaLogError(
      "io",
      sagaId,
      `The SQLite saga log on "${this.#engine.id}" failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}
