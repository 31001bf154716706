import { LockstepDefinitionError } from "../../model/definition-error.js";
import { describeInstance } from "../sql/unsupported-dialect.js";
import { drizzleD1Store } from "./drizzle-d1.js";
import { drizzleDriverOf } from "./drizzle-dialect.js";
import { drizzleLibsqlStore } from "./drizzle-libsql.js";
import { drizzleMysqlStore } from "./drizzle-mysql.js";
import { drizzlePostgresStore } from "./drizzle-postgres.js";
import { drizzleSqliteStore } from "./drizzle-sqlite.js";
import type { DrizzleStoreOptions } from "./drizzle-store-options.js";
import type { DrizzleDatabase, DrizzleStore } from "./drizzle-types.js";

/**
 * Wraps a Drizzle database as a lockstep store, its capabilities those of the driver, whose step
 * handles are Drizzle objects, so step code stays Drizzle code:
 *
 * - **node-postgres** (`drizzle(pool)`, a `pg.Pool`): transactions are `postgresStore`'s, each on a
 *   pooled connection of its own; the work gets a Drizzle transaction object whose statements run
 *   on that connection. Other steps get a Drizzle database whose queries are ended (backend
 *   terminated, waited for) when the step's call is abandoned, as `postgresStore`'s root handle.
 * - **mysql2** (`drizzle(pool)`, a `mysql2` pool, promise or callback): transactions are
 *   `mysqlStore`'s, each on a pooled connection of its own, and the work gets a Drizzle transaction
 *   object whose statements run on that connection. Other steps get a Drizzle database whose queries
 *   are ended (server thread killed, waited for) when the step's call is abandoned. A write's
 *   `affected` count is the rows it matched, as `mysqlStore` counts them.
 * - **better-sqlite3** (`drizzle(new Database(file))`): transactions are `sqliteStore`'s, on
 *   lockstep's own connection to the same file, behind the file's write gate, so the work may
 *   await — which Drizzle's own better-sqlite3 `db.transaction()` cannot. Writes through `db`
 *   itself are put behind the same gate: while a lockstep transaction is open they wait for it
 *   (await them) and never join it. The file must be a file, not `:memory:`.
 * - **libSQL** (`drizzle(client)`, an `@libsql/client` client): transactions, atomic batches and
 *   conditional writes are `libsqlStore`'s on the same client; the work of a transaction gets a
 *   Drizzle transaction object whose statements run in it, and `store.batch` sends Drizzle queries
 *   in one `batch` (`runAtomic` picks the transaction). `id` is required.
 * - **D1** (`drizzle(env.DB)`): atomic batches and conditional writes, no transactions (D1 has
 *   none), as `d1Store`'s. Step handles are Drizzle databases; a step co-committed with the saga
 *   log queues its writes (`void handle.batch([…])`) into one batch with its log records and a
 *   fencing check. Step calls are fenced by token. `id` is required.
 *
 * Driver errors are classified through Drizzle's wrappers (`DrizzleQueryError` keeps the driver's
 * error as its `cause`). In a batch (libSQL's `store.batch`, D1), mark a statement carrying its
 * own precondition with `guarded(…)`. A Drizzle database on another driver throws
 * `UnsupportedDialectError` naming it; anything else a `LockstepDefinitionError` naming the value.
 *
 * @example
 * ```ts
 * const db = drizzle(pool, { schema });
 * const orders = drizzleStore(db, { id: "orders-db" });
 * const log = drizzleSagaLog(db, { store: orders });
 * const place = defineSaga("place-order", { input: z.object({ id: z.string() }) })
 *   .step("insert-order", {
 *     store: orders,
 *     kind: "pivot",
 *     output: z.object({ id: z.string() }),
 *     execute: async ({ input, handle }) => {
 *       await handle.insert(ordersTable).values({ id: input.id });
 *       return { id: input.id };
 *     },
 *     probe: async ({ input, handle }) =>
 *       (await handle.select().from(ordersTable).where(eq(ordersTable.id, input.id))).length > 0
 *         ? committed({ id: input.id })
 *         : notCommitted(),
 *   });
 * ```
 */
export function drizzleStore<Db extends DrizzleDatabase>(
  db: Db,
  options: DrizzleStoreOptions = {},
): DrizzleStore<Db> {
  const driver = drizzleDriverOf(db);
  if (typeof options !== "object" || options === null) {
    throw new LockstepDefinitionError(
      `Expected \`options\` to be an object, got ${describeInstance(options)}.`,
    );
  }
  switch (driver) {
    case "node-postgres":
      return drizzlePostgresStore(db, options) as unknown as DrizzleStore<Db>;
    case "mysql2":
      return drizzleMysqlStore(db, options) as unknown as DrizzleStore<Db>;
    case "better-sqlite3":
      return drizzleSqliteStore(db, options) as unknown as DrizzleStore<Db>;
    case "libsql":
      return drizzleLibsqlStore(db, options) as unknown as DrizzleStore<Db>;
    case "d1":
      return drizzleD1Store(db, options) as unknown as DrizzleStore<Db>;
  }
}
