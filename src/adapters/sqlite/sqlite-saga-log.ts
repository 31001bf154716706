import type { CoCommitLog, SagaLog } from "../../log/saga-log.js";
import { coCommitStoreId } from "../sql/co-commit-store.js";
import { SqlSagaLog } from "../sql/sql-saga-log.js";
import type { SyncSql } from "./connection.js";
import { engineOf, type SqliteDatabase } from "./database.js";
import { SqliteLogOperations } from "./saga-log-operations.js";
import { sagaLogTables } from "./saga-log-schema.js";
import { sqliteDialect } from "./sqlite-dialect.js";
import type { SqliteHandle } from "./sqlite-handle.js";
import { sqliteScopeOf } from "./sqlite-transaction.js";

const LOG_CALL = "A saga log call";
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
  /**
   * The store whose transactions this log's records may ride in (co-commit): the log's
   * `coCommit.storeId` is its `id`. It must be a `sqliteStore` on the same database.
   *
   * @default none: the database's id, which is `sqliteStore(db)`'s default id
   * @example `sqliteSagaLog(db, { store: ordersStore })`
   */
  readonly store?: { readonly id: string };
  /**
   * The logical id of the store whose transactions this log's records may ride in, as the store was
   * given it (`sqliteStore(db, { id: "orders-db" })`). The same declaration as
   * {@link SqliteSagaLogOptions.store}, by id.
   *
   * @default none: the database's id
   * @example `sqliteSagaLog(db, { coCommitWith: "orders-db" })`
   */
  readonly coCommitWith?: string;
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
  const storeId = coCommitStoreId(options, () => engine.id);
  const operations = new SqliteLogOperations(sagaLogTables(options.tablePrefix ?? "lockstep_"));
  const log = new SqlSagaLog<SqliteHandle, SyncSql, "sync">({
    dialect: sqliteDialect,
    storeId,
    database: engine.gate,
    handleOrigin: "sqliteStore(db).transaction",
    operations,
    // A read runs in a read transaction beside the writer; everything else behind the write gate.
    run: (access, body) =>
      access === "read"
        ? engine.readSync(LOG_CALL, body, INSIDE_TRANSACTION)
        : engine.writeSync(LOG_CALL, body, INSIDE_TRANSACTION),
    createSchema: () =>
      engine.writeSync("Creating the saga log's tables", (sql) => operations.ensureSchema(sql)),
    createSchemaIn: (sql) => operations.ensureSchema(sql),
    scopeOf: sqliteScopeOf,
  });
  // Created now so the tables exist before the first co-committed write; a failure here (say, a
  // transaction is open in this context) is retried by the first operation.
  log.ensureSchema().catch(() => {});
  return log;
}
