import type { Pool } from "mysql2/promise";
import { assertInteger } from "../../core/validate.js";
import type { CoCommitLog, SagaLog } from "../../log/saga-log.js";
import { coCommitStoreId } from "../sql/co-commit-store.js";
import type { LogAccess } from "../sql/saga-log-driver.js";
import { SqlSagaLog } from "../sql/sql-saga-log.js";
import { assertPool } from "./assert-pool.js";
import { mysqlDialect } from "./mysql-dialect.js";
import type { MysqlHandle } from "./mysql-handle.js";
import { mysqlScopeOf } from "./mysql-transaction.js";
import { runMysqlTransaction, type TransactionSettings } from "./run-transaction.js";
import { MysqlLogOperations, type Sql } from "./saga-log-operations.js";
import { mysqlSagaLogTables } from "./saga-log-schema.js";
import { type MysqlRaw, normalizeResult, paramsOf } from "./statements.js";
import { mysqlStoreId } from "./store-id.js";

/** Options of {@link mysqlSagaLog}. */
export interface MysqlSagaLogOptions {
  /**
   * The database the log's tables live in. It must exist; the tables are created in it.
   *
   * @default the pool's own database (the tables' names are then not qualified)
   * @example `mysqlSagaLog(pool, { database: "lockstep" })`
   */
  readonly database?: string;
  /**
   * Prepended to the log's table names (`<prefix>sagas`, `<prefix>saga_entries`), so several logs,
   * or a log and an application's own tables, can share one database. Letters, digits and
   * underscores.
   *
   * @default "lockstep_"
   * @example `mysqlSagaLog(pool, { tablePrefix: "billing_" })`
   */
  readonly tablePrefix?: string;
  /**
   * The store whose transactions this log's records may ride in (co-commit): the log's
   * `coCommit.storeId` is its `id`.
   *
   * @default none: the id `mysqlStore` derives from the pool, `mysql:<host>:<port>/<database>`
   * @example `mysqlSagaLog(pool, { store: ordersStore })`
   */
  readonly store?: { readonly id: string };
  /**
   * The logical id of the store whose transactions this log's records may ride in, as the store
   * was given it (`mysqlStore(pool, { id: "orders-db" })`). The same declaration as
   * {@link MysqlSagaLogOptions.store}, by id.
   *
   * @default none: the id `mysqlStore` derives from the pool
   * @example `mysqlSagaLog(pool, { coCommitWith: "orders-db" })`
   */
  readonly coCommitWith?: string;
  /**
   * The deadline, in milliseconds, of each of the log's own transactions. One that outlives it is
   * ended by killing its connection.
   *
   * @default 30000
   * @example `mysqlSagaLog(pool, { timeoutMs: 5000 })`
   */
  readonly timeoutMs?: number;
}

/** A saga log stored in MySQL or MariaDB, able to commit its records inside a `mysqlStore` transaction. */
export interface MysqlSagaLog extends SagaLog {
  /**
   * Writes log records inside a transaction of a `mysqlStore` on the same database (its `storeId`
   * is that store's id). The saga row is locked with `SELECT … FOR UPDATE` and the fencing token is
   * checked inside that transaction, so a step's writes and its record commit or roll back together;
   * a stale token throws `SagaLogError("stale_token")`, which rolls the step's writes back with it.
   *
   * @example
   * ```ts
   * await store.transaction(async (tx) => {
   *   await tx.query("INSERT INTO orders (id) VALUES (?)", [orderId]);
   *   await log.coCommit.write(tx, sagaId, token, { entries: [committedEntry], now: Date.now() });
   * }, scope);
   * ```
   */
  readonly coCommit: CoCommitLog<MysqlHandle>;
  /**
   * Creates the log's tables if any is missing, and resolves once they exist. Every other call does
   * this first on its own; call it at start-up to fail fast on a database that cannot be reached or
   * written. Safe to call from many processes at once.
   */
  ensureSchema(): Promise<void>;
}

/**
 * Opens the saga log on a `mysql2` promise pool (MySQL 8, or MariaDB 10.6 and later), creating its
 * InnoDB tables on first use if they do not exist (serialized across processes by `GET_LOCK`).
 *
 * Every call runs in a transaction of its own on a pooled connection: reads in one consistent
 * snapshot (`REPEATABLE READ`), writes under `READ COMMITTED` with the rows they check locked
 * (`SELECT … FOR UPDATE`), so a stale fencing token, another writer's change or a body edited
 * behind the log's back is refused exactly (`stale_token`, `status_mismatch`, `corrupt`,
 * `not_found`). `claimRecoverable` locks its candidates with `FOR UPDATE SKIP LOCKED`, so recovery
 * workers in many processes claim concurrently without waiting for one another and never claim the
 * same saga. A corrupt saga never stops the others from being claimed, and `list` shows it rebuilt
 * from its columns, as every log does.
 *
 * @example
 * ```ts
 * const pool = createPool({ host: "127.0.0.1", user: "app", database: "shop" });
 * const runner = createRunner({ log: mysqlSagaLog(pool) });
 * ```
 */
export function mysqlSagaLog(pool: Pool, options: MysqlSagaLogOptions = {}): MysqlSagaLog {
  assertPool(pool);
  const storeId = coCommitStoreId(options, () => mysqlStoreId(pool));
  const timeoutMs = options.timeoutMs ?? 30_000;
  assertInteger("timeoutMs", timeoutMs, 1);
  const tables = mysqlSagaLogTables(options.database, options.tablePrefix ?? "lockstep_");
  const operations = new MysqlLogOperations(tables);
  const settingsFor = (isolation: string): TransactionSettings => ({
    pool,
    storeId,
    isolation: `SET TRANSACTION ISOLATION LEVEL ${isolation}`,
    attempts: 3,
  });
  const reading = settingsFor("REPEATABLE READ");
  const writing = settingsFor("READ COMMITTED");
  const run = <T>(access: LogAccess, body: (sql: Sql) => Promise<T>): Promise<T> =>
    runMysqlTransaction(
      access === "read" ? reading : writing,
      (tx) => {
        const scope = mysqlScopeOf(tx);
        if (scope === undefined) throw new Error("A transaction handle lost its scope.");
        return body(scope.context.sqlFor(scope));
      },
      { signal: AbortSignal.timeout(timeoutMs), deadline: Date.now() + timeoutMs },
    );
  return new SqlSagaLog<MysqlHandle, Sql, "async">({
    dialect: mysqlDialect,
    storeId,
    database: storeId,
    handleOrigin: "mysqlStore(pool).transaction",
    operations,
    run,
    createSchema: async () => {
      // DDL commits implicitly in MySQL, so the tables are created on a connection outside any
      // transaction; the named lock it takes is the connection's, released before it returns.
      const connection = await pool.getConnection();
      try {
        const sql: Sql = async <T>(text: string, params?: readonly unknown[]) =>
          normalizeResult<T>(
            (await connection.query(text, paramsOf(params))) as unknown as MysqlRaw,
          );
        if (!(await operations.schemaExists(sql))) await operations.createSchema(sql);
      } finally {
        connection.release();
      }
    },
    scopeOf: mysqlScopeOf,
  });
}
