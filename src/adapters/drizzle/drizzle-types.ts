import type { CallScope } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import type { WriteStore } from "../../core/store.js";
import { describeValue } from "../../core/validate.js";
import type { DrizzleDriver } from "./drizzle-dialect.js";

/**
 * A Drizzle database lockstep can wrap: one from `drizzle-orm/node-postgres` over a `pg.Pool`, from
 * `drizzle-orm/mysql2` over a `mysql2` pool, from `drizzle-orm/better-sqlite3` over a database
 * file, from `drizzle-orm/libsql` over an `@libsql/client` client, or from `drizzle-orm/d1` over a
 * Cloudflare D1 binding.
 */
export interface DrizzleDatabase {
  readonly $client: unknown;
  // biome-ignore lint/suspicious/noExplicitAny: matches every Drizzle database's own signature.
  transaction(transaction: (tx: any) => any, ...rest: any[]): any;
}

/**
 * A Drizzle database on Cloudflare D1 (`drizzle-orm/d1`), told apart by its client: a binding with
 * `prepare`, `batch` and `exec`.
 */
export type DrizzleD1Database = DrizzleDatabase & {
  readonly $client: { prepare: unknown; batch: unknown; exec: unknown };
};

/**
 * A Drizzle database on libSQL (`drizzle-orm/libsql`), told apart by its client: an
 * `@libsql/client` client, with `execute`, `batch` and `transaction`.
 */
export type DrizzleLibsqlDatabase = DrizzleDatabase & {
  readonly $client: { execute: unknown; batch: unknown; transaction: unknown };
};

/**
 * The transaction object Drizzle hands `db.transaction`'s callback for a database of type `Db`:
 * `NodePgTransaction<…>` on node-postgres, `SQLiteTransaction<"sync", RunResult, …>` on
 * better-sqlite3, `LibSQLTransaction<…>` on libSQL. What a lockstep transaction of a Drizzle store
 * hands its work.
 */
export type DrizzleTransaction<Db extends DrizzleDatabase> = Db extends {
  // biome-ignore lint/suspicious/noExplicitAny: inference position.
  transaction(transaction: (tx: infer Tx) => any, ...rest: any[]): any;
}
  ? Tx
  : never;

/**
 * How step code talks to a Drizzle store with transactions: the query builders of a Drizzle
 * transaction (`insert`, `select`, `update`, `delete`, `execute`, `query`, `$with`, …). A step
 * co-committed with the saga log receives the transaction itself; any other step receives the
 * store's root database. Nested `transaction()` and `rollback()` are left out: lockstep owns the
 * transaction.
 */
export type DrizzleTransactionHandle<Db extends DrizzleDatabase> = Omit<
  DrizzleTransaction<Db>,
  "transaction" | "rollback" | "setTransaction"
>;

/**
 * How step code talks to a Drizzle store on D1, which has no transactions: the database without
 * `transaction` — its query builders, and `batch([…])`, which sends queries in one atomic batch
 * (in a co-committed step, queued into the step's batch).
 */
export type DrizzleBatchHandle<Db extends DrizzleDatabase> = Omit<Db, "transaction" | "$client">;

/**
 * How step code talks to a Drizzle store: {@link DrizzleBatchHandle} on D1,
 * {@link DrizzleTransactionHandle} on every other driver.
 */
export type DrizzleHandle<Db extends DrizzleDatabase> = Db extends DrizzleD1Database
  ? DrizzleBatchHandle<Db>
  : DrizzleTransactionHandle<Db>;

/** A prepared write on a handle of type `Handle`: see {@link DrizzleWrite}. */
export type DrizzleWriteOn<Handle> = (handle: Handle) => PromiseLike<unknown>;

/**
 * A prepared write for `runAtomic`: a function that builds one Drizzle statement on the handle it
 * is given and returns it unawaited. Express every precondition in the statement itself (`.where(
 * and(eq(t.id, id), eq(t.version, v)))`); zero rows affected on a guarded write is a conflict. In a
 * batch (D1, or `store.batch` on libSQL), mark such a statement with `guarded(…)` so that the whole
 * batch applies nothing when its guard does not hold.
 *
 * @example
 * ```ts
 * const cancel: DrizzleWrite<typeof db> = (tx) =>
 *   tx.delete(ordersTable).where(and(eq(ordersTable.id, id), eq(ordersTable.id, id)));
 * ```
 */
export type DrizzleWrite<Db extends DrizzleDatabase> = DrizzleWriteOn<DrizzleHandle<Db>>;

/** What every Drizzle store has besides the store itself, its step handles of type `Handle`. */
interface DrizzleStoreCommon<Handle> extends WriteStore<Handle, DrizzleWriteOn<Handle>, unknown> {
  /**
   * The Drizzle driver under the store: `"node-postgres"`, `"mysql2"`, `"better-sqlite3"`,
   * `"libsql"` or `"d1"`.
   */
  readonly driver: DrizzleDriver;
  /**
   * Closes what lockstep opened for this store: on better-sqlite3, its own connections to the file
   * (shared with `drizzleSagaLog(db)`, so close once both are done with). On the other drivers it
   * does nothing: the pool, client or binding is yours.
   */
  close(): void;
}

/**
 * Applies Drizzle writes all-or-nothing in one atomic batch, results by position (each as Drizzle's
 * own `db.batch` maps it). A write marked `guarded(…)` that changes no row fails the batch as a
 * `conflict` naming its index; nothing applies.
 */
export type DrizzleBatch<Handle> = (
  writes: readonly DrizzleWriteOn<Handle>[],
  scope: CallScope,
) => Promise<readonly unknown[]>;

/**
 * A lockstep store over a Drizzle database with transactions (node-postgres, mysql2,
 * better-sqlite3, libSQL): interactive transactions and guarded writes, with Drizzle transaction
 * objects as step handles.
 */
export interface DrizzleTransactionStore<Db extends DrizzleDatabase>
  extends DrizzleStoreCommon<DrizzleTransactionHandle<Db>> {
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
}

/**
 * A lockstep store over a Drizzle database on D1: atomic batches and guarded writes, no
 * transactions (D1 has none). Step handles are Drizzle databases; a step co-committed with the
 * saga log queues its writes into one batch with the log's records.
 */
export interface DrizzleBatchStore<Db extends DrizzleDatabase>
  extends DrizzleStoreCommon<DrizzleBatchHandle<Db>> {
  /** See {@link DrizzleBatch}. */
  readonly batch: DrizzleBatch<DrizzleBatchHandle<Db>>;
  /**
   * Runs `work` with a Drizzle database whose reads see committed data at once and whose writes
   * (`handle.batch([…])`, `handle.insert(…).run()`) are queued, then applies the queued writes in
   * one D1 batch when `work` resolves (nothing when it rejects). A saga step on the log's own
   * database co-commits its log records through it. A queued write's promise settles once the
   * batch is applied: do not await it inside `work`.
   */
  readonly deferredBatch: <T>(
    work: (batch: DrizzleBatchHandle<Db>) => Promise<T>,
    scope: CallScope,
  ) => Promise<T>;
}

/**
 * A lockstep store over a Drizzle database: {@link DrizzleBatchStore} on D1; on libSQL a
 * {@link DrizzleTransactionStore} that also applies atomic batches; a
 * {@link DrizzleTransactionStore} otherwise.
 */
export type DrizzleStore<Db extends DrizzleDatabase> = Db extends DrizzleD1Database
  ? DrizzleBatchStore<Db>
  : Db extends DrizzleLibsqlDatabase
    ? DrizzleTransactionStore<Db> & { readonly batch: DrizzleBatch<DrizzleTransactionHandle<Db>> }
    : DrizzleTransactionStore<Db>;

/**
 * How many rows a Drizzle write reports it changed: `rowCount` (pg), `changes` (better-sqlite3),
 * `rowsAffected` (libSQL), `meta.changes` (D1), or the rows it returned.
 */
export function affectedRows(result: unknown): number {
  if (Array.isArray(result)) return result.length;
  if (typeof result === "object" && result !== null) {
    const { rowCount, changes, rowsAffected, meta } = result as {
      rowCount?: unknown;
      changes?: unknown;
      rowsAffected?: unknown;
      meta?: { changes?: unknown } | null;
    };
    if (typeof rowCount === "number") return rowCount;
    if (typeof changes === "number") return changes;
    if (typeof rowsAffected === "number") return rowsAffected;
    if (typeof meta?.changes === "number") return meta.changes;
  }
  throw new StoreError(
    "unknown",
    `A Drizzle write resolved with ${describeValue(result)}, which says nothing about how many rows it changed; return the statement itself (\`(tx) => tx.update(table).set(…).where(…)\`), unawaited.`,
  );
}
