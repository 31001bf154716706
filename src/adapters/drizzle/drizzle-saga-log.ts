import type { Pool as MysqlCallbackPool } from "mysql2";
import type { Pool as MysqlPool } from "mysql2/promise";
import type { Pool } from "pg";
import type { D1DatabaseLike } from "../d1/d1-binding.js";
import { type D1SagaLog, d1SagaLog } from "../d1/d1-saga-log.js";
import type { LibsqlClientLike } from "../libsql/libsql-database.js";
import { type LibsqlSagaLog, libsqlSagaLog } from "../libsql/libsql-saga-log.js";
import { type MysqlSagaLog, mysqlSagaLog } from "../mysql/mysql-saga-log.js";
import { type PostgresSagaLog, postgresSagaLog } from "../postgres/postgres-saga-log.js";
import { type SqliteSagaLog, sqliteSagaLog } from "../sqlite/sqlite-saga-log.js";
import { type DrizzleInternals, drizzleDriverOf } from "./drizzle-dialect.js";
import { mysqlPoolOf } from "./drizzle-mysql.js";
import { sqliteDatabaseOf } from "./drizzle-sqlite.js";
import type { DrizzleD1Database, DrizzleDatabase, DrizzleLibsqlDatabase } from "./drizzle-types.js";

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
   * Prepended to the log's table names (`<prefix>sagas`, `<prefix>saga_entries`). On libSQL and D1
   * also to the store's own tables: give the store the same prefix.
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
 * `pg.Pool`, `mysqlSagaLog` on its `mysql2` pool (in the pool's database), `sqliteSagaLog` on its
 * file (sharing the connections `drizzleStore(db)` opened), `libsqlSagaLog` on its libSQL client,
 * or `d1SagaLog` on its D1 binding. Declare the Drizzle store with `store` and every step on it
 * commits its writes and its log record together: in one transaction, or on D1 in one batch with a
 * fencing check. The log's tables are lockstep's own, created if missing.
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
 * The log `drizzleSagaLog` opens for a database of type `Db`: D1's over a D1 binding, libSQL's over
 * an `@libsql/client` client, Postgres's over a `pg.Pool`, MySQL's over a `mysql2` pool, SQLite's
 * otherwise.
 */
export type DrizzleSagaLog<Db extends DrizzleDatabase> = Db extends DrizzleD1Database
  ? D1SagaLog
  : Db extends DrizzleLibsqlDatabase
    ? LibsqlSagaLog
    : Db extends { readonly $client: Pool }
      ? PostgresSagaLog
      : Db extends { readonly $client: MysqlPool | MysqlCallbackPool }
        ? MysqlSagaLog
        : SqliteSagaLog;

function openLog(
  db: DrizzleDatabase,
  options: DrizzleSagaLogOptions,
): PostgresSagaLog | MysqlSagaLog | SqliteSagaLog | LibsqlSagaLog | D1SagaLog {
  const driver = drizzleDriverOf(db);
  const { schema, ...shared } = options;
  const client = (db as unknown as DrizzleInternals).$client;
  switch (driver) {
    case "node-postgres":
      return postgresSagaLog(client as Pool, schema === undefined ? shared : { ...shared, schema });
    case "mysql2":
      return mysqlSagaLog(mysqlPoolOf(db), shared);
    case "better-sqlite3":
      return sqliteSagaLog(sqliteDatabaseOf(db), shared);
    case "libsql":
      return libsqlSagaLog(client as LibsqlClientLike, shared);
    case "d1":
      return d1SagaLog(client as D1DatabaseLike, shared);
  }
}
