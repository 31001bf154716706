import type { Kysely } from "kysely";
import type { Pool } from "pg";
import { type MysqlSagaLog, mysqlSagaLog } from "../mysql/mysql-saga-log.js";
import { assertPool } from "../postgres/assert-pool.js";
import { type PostgresSagaLog, postgresSagaLog } from "../postgres/postgres-saga-log.js";
import { databaseOfClient } from "../sqlite/database-of-client.js";
import { type SqliteSagaLog, sqliteSagaLog } from "../sqlite/sqlite-saga-log.js";
import { kyselyDialectOf } from "./kysely-dialect.js";
import { mysqlPoolOfClient } from "./kysely-mysql.js";

/** Options of {@link kyselySagaLog}. */
export interface KyselySagaLogOptions {
  /** The driver client the Kysely dialect was given, as `kyselyStore` takes it. */
  readonly client: unknown;
  /** The Kysely store whose transactions this log's records ride in (co-commit). */
  readonly store?: { readonly id: string };
  /** Prepended to the log's table names. @default "lockstep_" */
  readonly tablePrefix?: string;
  /** Postgres only: the schema of the log's tables, created if missing. @default "public" */
  readonly schema?: string;
}

/**
 * Opens lockstep's saga log on the database a Kysely database uses: `postgresSagaLog` on its pool,
 * `mysqlSagaLog` on its `mysql2` pool (in the pool's database), or `sqliteSagaLog` on its file (sharing the connections `kyselyStore` opened). Declare the store
 * with `store` and its steps commit their writes and their log records in one transaction.
 *
 * @example
 * ```ts
 * const runner = createRunner({ log: kyselySagaLog(db, { client: pool, store: orders }) });
 * ```
 */
export function kyselySagaLog<DB>(
  db: Kysely<DB>,
  options: KyselySagaLogOptions,
): PostgresSagaLog | MysqlSagaLog | SqliteSagaLog {
  const dialect = kyselyDialectOf(db);
  const { client, schema, ...shared } = options;
  if (dialect === "postgres") {
    assertPool(client, "client");
    return postgresSagaLog(client as Pool, schema === undefined ? shared : { ...shared, schema });
  }
  if (dialect === "mysql") return mysqlSagaLog(mysqlPoolOfClient(client), shared);
  return sqliteSagaLog(databaseOfClient(client, "client"), shared);
}
