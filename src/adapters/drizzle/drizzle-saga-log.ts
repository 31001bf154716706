import type { Pool as MysqlCallbackPool } from "mysql2";
import type { Pool as MysqlPool } from "mysql2/promise";
import type { Pool } from "pg";
import { type MysqlSagaLog, mysqlSagaLog } from "../mysql/mysql-saga-log.js";
import { type PostgresSagaLog, postgresSagaLog } from "../postgres/postgres-saga-log.js";
import { type SqliteSagaLog, sqliteSagaLog } from "../sqlite/sqlite-saga-log.js";
import { type DrizzleInternals, drizzleDriverOf } from "./drizzle-dialect.js";
import { mysqlPoolOf } from "./drizzle-mysql.js";
import { sqliteDatabaseOf } from "./drizzle-sqlite.js";
import type { DrizzleDatabase } from "./drizzle-types.js";

/** Options of {@link drizzleSagaLog}: the log's own options on the driver's database. */
export interface DrizzleSagaLogOptions {
  /**
   * The Drizzle store whose transactions this log's records ride in (co-commit).
   *
   * @default none: the id lockstep derives for the database, which is `drizzleStore(db)`'s default id
   * @example `drizzleSagaLog(db, { store: orders })`
   */
  readonly store?: { readonly id: string };
  /**
   * Prepended to the log's table names (`<prefix>sagas`, `<prefix>saga_entries`).
   *
   * @default "lockstep_"
   */
  readonly tablePrefix?: string;
  /**
   * node-postgres only: the schema the log's tables live in; created if missing.
   *
   * @default "public"
   */
  readonly schema?: string;
}

/**
 * Opens lockstep's saga log on the database a Drizzle database uses: `postgresSagaLog` on its
 * `pg.Pool`, `mysqlSagaLog` on its `mysql2` pool (in the pool's database), or `sqliteSagaLog` on its file (sharing the connections `drizzleStore(db)` opened).
 * Declare the Drizzle store with `store` and every step on it commits its writes and its log
 * record in one transaction. The log's tables are lockstep's own, created if missing.
 *
 * @example
 * ```ts
 * const orders = drizzleStore(db, { id: "orders-db" });
 * const runner = createRunner({ log: drizzleSagaLog(db, { store: orders }) });
 * ```
 */
export function drizzleSagaLog<Db extends DrizzleDatabase>(
  db: Db,
  options: DrizzleSagaLogOptions = {},
): DrizzleSagaLog<Db> {
  return openLog(db, options) as DrizzleSagaLog<Db>;
}

/**
 * The log `drizzleSagaLog` opens for a database of type `Db`: Postgres's over a `pg.Pool`, MySQL's
 * over a `mysql2` pool, SQLite's otherwise.
 */
export type DrizzleSagaLog<Db extends DrizzleDatabase> = Db extends { readonly $client: Pool }
  ? PostgresSagaLog
  : Db extends { readonly $client: MysqlPool | MysqlCallbackPool }
    ? MysqlSagaLog
    : SqliteSagaLog;

function openLog(
  db: DrizzleDatabase,
  options: DrizzleSagaLogOptions,
): PostgresSagaLog | MysqlSagaLog | SqliteSagaLog {
  const driver = drizzleDriverOf(db);
  const { schema, ...shared } = options;
  if (driver === "node-postgres") {
    const pool = (db as unknown as DrizzleInternals).$client as Pool;
    return postgresSagaLog(pool, schema === undefined ? shared : { ...shared, schema });
  }
  if (driver === "mysql2") return mysqlSagaLog(mysqlPoolOf(db), shared);
  return sqliteSagaLog(sqliteDatabaseOf(db), shared);
}
