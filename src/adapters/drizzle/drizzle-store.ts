import { LockstepDefinitionError } from "../../model/definition-error.js";
import { describeInstance } from "../sql/unsupported-dialect.js";
import { drizzleDriverOf } from "./drizzle-dialect.js";
import { drizzleMysqlStore } from "./drizzle-mysql.js";
import { drizzlePostgresStore } from "./drizzle-postgres.js";
import { drizzleSqliteStore } from "./drizzle-sqlite.js";
import type { DrizzleStoreOptions } from "./drizzle-store-options.js";
import type { DrizzleDatabase, DrizzleStore } from "./drizzle-types.js";

/**
 * Wraps a Drizzle database as a lockstep store with `transactions` and `conditionalWrite`, whose
 * step handles are Drizzle objects, so step code stays Drizzle code:
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
 *
 * Driver errors are classified through Drizzle's wrappers (`DrizzleQueryError` keeps the driver's
 * error as its `cause`). A Drizzle database on another driver throws `UnsupportedDialectError`
 * naming it; anything else a `LockstepDefinitionError` naming the value.
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
  if (driver === "node-postgres") return drizzlePostgresStore(db, options);
  return driver === "mysql2" ? drizzleMysqlStore(db, options) : drizzleSqliteStore(db, options);
}
