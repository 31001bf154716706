import type { CallScope } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import type { WriteStore } from "../../core/store.js";
import { describeValue } from "../../core/validate.js";
import type { DrizzleDriver } from "./drizzle-dialect.js";

/**
 * A Drizzle database lockstep can wrap: one from `drizzle-orm/node-postgres` over a `pg.Pool`, from
 * `drizzle-orm/mysql2` over a `mysql2` pool, or from `drizzle-orm/better-sqlite3` over a database
 * file.
 */
export interface DrizzleDatabase {
  readonly $client: unknown;
  // biome-ignore lint/suspicious/noExplicitAny: matches every Drizzle database's own signature.
  transaction(transaction: (tx: any) => any, ...rest: any[]): any;
}

/**
 * The transaction object Drizzle hands `db.transaction`'s callback for a database of type `Db`:
 * `NodePgTransaction<…>` on node-postgres, `SQLiteTransaction<"sync", RunResult, …>` on
 * better-sqlite3. What a lockstep transaction of a Drizzle store hands its work.
 */
export type DrizzleTransaction<Db extends DrizzleDatabase> = Db extends {
  // biome-ignore lint/suspicious/noExplicitAny: inference position.
  transaction(transaction: (tx: infer Tx) => any, ...rest: any[]): any;
}
  ? Tx
  : never;

/**
 * How step code talks to a Drizzle store: the query builders of a Drizzle transaction
 * (`insert`, `select`, `update`, `delete`, `execute`, `query`, `$with`, …). A step co-committed with
 * the saga log receives the transaction itself; any other step receives the store's root database.
 * Nested `transaction()` and `rollback()` are left out: lockstep owns the transaction.
 */
export type DrizzleHandle<Db extends DrizzleDatabase> = Omit<
  DrizzleTransaction<Db>,
  "transaction" | "rollback" | "setTransaction"
>;

/**
 * A prepared write for `runAtomic`: a function that builds one Drizzle statement on the handle it
 * is given and returns it unawaited. Express every precondition in the statement itself (`.where(
 * and(eq(t.id, id), eq(t.version, v)))`); zero rows affected on a guarded write is a conflict.
 *
 * @example
 * ```ts
 * const cancel: DrizzleWrite<typeof db> = (tx) =>
 *   tx.delete(ordersTable).where(and(eq(ordersTable.id, id), eq(ordersTable.id, id)));
 * ```
 */
export type DrizzleWrite<Db extends DrizzleDatabase> = (
  handle: DrizzleHandle<Db>,
) => PromiseLike<unknown>;

/**
 * A lockstep store over a Drizzle database: interactive transactions and guarded writes, with
 * Drizzle transaction objects as step handles.
 */
export interface DrizzleStore<Db extends DrizzleDatabase>
  extends WriteStore<DrizzleHandle<Db>, DrizzleWrite<Db>, unknown> {
  /**
   * Runs `work` in one lockstep transaction and hands it a Drizzle transaction object bound to it:
   * every statement the work builds on `tx` runs inside that transaction, and commits or rolls back
   * with it (and with the saga log's records, when the log co-commits with this store). If `work`
   * rejects, or calls `tx.rollback()`, the transaction rolls back and the call rejects with a
   * `StoreError` whose kind says nothing was applied.
   *
   * On better-sqlite3 the work may await: lockstep holds the database's write gate until the
   * transaction ends, so writes through `db` elsewhere in the process wait for it and never join it.
   */
  readonly transaction: <T>(
    work: (tx: DrizzleTransaction<Db>) => Promise<T>,
    scope: CallScope,
  ) => Promise<T>;
  /** The Drizzle driver under the store: `"node-postgres"`, `"mysql2"` or `"better-sqlite3"`. */
  readonly driver: DrizzleDriver;
  /**
   * Closes what lockstep opened for this store: on better-sqlite3, its own connections to the file
   * (shared with `drizzleSagaLog(db)`, so close once both are done with). On node-postgres and
   * mysql2 it does nothing: the pool is yours to end.
   */
  close(): void;
}

/** How many rows a Drizzle write reports it changed: `rowCount` (pg), `changes` (SQLite), or rows returned. */
export function affectedRows(result: unknown): number {
  if (Array.isArray(result)) return result.length;
  if (typeof result === "object" && result !== null) {
    const { rowCount, changes } = result as { rowCount?: unknown; changes?: unknown };
    if (typeof rowCount === "number") return rowCount;
    if (typeof changes === "number") return changes;
  }
  throw new StoreError(
    "unknown",
    `A Drizzle write resolved with ${describeValue(result)}, which says nothing about how many rows it changed; return the statement itself (\`(tx) => tx.update(table).set(…).where(…)\`), unawaited.`,
  );
}
