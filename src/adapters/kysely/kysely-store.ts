import type { Kysely } from "kysely";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import { describeInstance } from "../sql/unsupported-dialect.js";
import { kyselyDialectOf } from "./kysely-dialect.js";
import { kyselyMysqlStore } from "./kysely-mysql.js";
import { kyselyPostgresStore } from "./kysely-postgres.js";
import { kyselySqliteStore } from "./kysely-sqlite.js";
import type { KyselyStore, KyselyStoreOptions } from "./kysely-types.js";

/**
 * Wraps a Kysely database as a lockstep store with `transactions` and `conditionalWrite`, whose
 * step handles are Kysely objects, so step code stays Kysely code. Pass the driver client you gave
 * the dialect as `client`: Kysely keeps it private, and lockstep needs it.
 *
 * - **Postgres** (`PostgresDialect({ pool })`): transactions are `postgresStore`'s, each on a pooled
 *   connection of its own, and the work gets a `Transaction<DB>` whose queries run on it. Other
 *   steps get a `Kysely<DB>` whose queries are ended (backend terminated, waited for) when the
 *   step's call is abandoned.
 * - **MySQL** (`MysqlDialect({ pool })`, a `mysql2` pool): transactions are `mysqlStore`'s, each on
 *   a pooled connection of its own (a callback pool is used through its `.promise()` API), and the
 *   work gets a `Transaction<DB>` whose queries run on it. Other steps get a `Kysely<DB>` whose
 *   queries are ended (server thread killed, waited for) when the step's call is abandoned. A
 *   write's `numAffectedRows` is the rows it matched, as `mysqlStore` counts them.
 * - **SQLite** (`SqliteDialect({ database })`, better-sqlite3 on a file): transactions are
 *   `sqliteStore`'s, on lockstep's own connection to the file, behind the file's write gate, and
 *   may await. The store's handle waits for an open transaction; a write through your own `db`
 *   while one is open is refused at once as `transient` (Kysely's SQLite driver cannot wait), never
 *   joined to it.
 *
 * A Kysely database of another dialect throws `UnsupportedDialectError` naming its adapter;
 * anything else a `LockstepDefinitionError` naming the value.
 *
 * @example
 * ```ts
 * const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
 * const orders = kyselyStore(db, { id: "orders-db", client: pool });
 * const log = kyselySagaLog(db, { client: pool, store: orders });
 * // in a step: await ctx.handle.insertInto("orders").values({ id }).execute();
 * ```
 */
export function kyselyStore<DB>(db: Kysely<DB>, options: KyselyStoreOptions): KyselyStore<DB> {
  const dialect = kyselyDialectOf(db);
  if (typeof options !== "object" || options === null || options.client === undefined) {
    throw new LockstepDefinitionError(
      `Expected \`options.client\` to be the driver client the Kysely dialect was given (a pg.Pool, a mysql2 pool, or a better-sqlite3 Database), got ${describeInstance(options?.client)}: Kysely keeps its driver private.`,
    );
  }
  if (dialect === "mysql") return kyselyMysqlStore(db, options);
  return dialect === "postgres" ? kyselyPostgresStore(db, options) : kyselySqliteStore(db, options);
}
