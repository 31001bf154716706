import { abortWatchOf, type CallScope } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import { TRANSACT_NOW, type TransactNow } from "../../core/run-atomic.js";
import { defineStore, type WriteStore } from "../../core/store.js";
import { assertName } from "../../core/validate.js";
import { classifySqliteError } from "./classify-sqlite-error.js";
import { engineOf, type SqliteDatabase } from "./database.js";
import type {
  SqliteHandle,
  SqliteRunResult,
  SqliteTransactionHandle,
  SqliteWrite,
  SqliteWriteResult,
} from "./sqlite-handle.js";
import { runThrough } from "./sqlite-transaction.js";

/**
 * A SQLite store: transactions that own their connection, guarded writes (`UPDATE … WHERE
 * version = ?` reports zero changes when it loses) and savepoints. Its transaction callback receives
 * a {@link SqliteTransactionHandle}.
 */
export interface SqliteStore extends WriteStore<SqliteHandle, SqliteWrite, SqliteWriteResult> {
  /**
   * Runs `work` in one `BEGIN IMMEDIATE` transaction on the writer connection, holding the
   * database's write gate until it commits or rolls back, so no other statement can join it. If
   * `work` rejects or `scope.signal` aborts, the transaction rolls back and the call rejects with a
   * {@link StoreError} whose kind says nothing was applied (the error's own kind when it already says
   * so, `not_committed` otherwise), with the original error as its `cause`. A failing `COMMIT` is
   * classified: `transient` when SQLite was busy, `unknown` when the disk failed.
   */
  readonly transaction: <T>(
    work: (tx: SqliteTransactionHandle) => Promise<T>,
    scope: CallScope,
  ) => Promise<T>;
}

/** Options of {@link sqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * The store's logical identity, a name you choose for the database (`"orders-db"`). It is logged
   * in every saga's definition and compared on recovery, so name it: the default changes when the
   * file moves. A saga log on the same database declares it with `store` or `coCommitWith` to
   * commit its records inside this store's transactions.
   *
   * @default the database's id, `"sqlite:<absolute real path>"`
   * @example `sqliteStore(db, { id: "orders-db" })`
   */
  readonly id?: string;
}

/**
 * Wraps a database from `openSqlite` as a lockstep store with `transactions`, `conditionalWrite`
 * and `savepoints`. Its id is `options.id`, or the database's id; a saga log on the same database
 * commits its records inside the store's transactions when the ids agree (declare the store to the
 * log with `sqliteSagaLog(db, { store })`).
 *
 * Through the root handle, reads of a file database run at once on their own connection and see only
 * committed data; writes wait on the write gate behind any open transaction, then commit on their
 * own. On an in-memory database everything waits on the gate. A root-handle write issued from inside
 * that database's own transaction is refused, because it would wait for itself.
 *
 * @example
 * ```ts
 * const store = sqliteStore(openSqlite("app.db"));
 * await store.transaction(async (tx) => {
 *   await tx.run("UPDATE accounts SET balance = balance - ? WHERE id = ?", [10, "alice"]);
 *   await tx.run("UPDATE accounts SET balance = balance + ? WHERE id = ?", [10, "bob"]);
 * }, { signal: AbortSignal.timeout(5000), deadline: Date.now() + 5000 });
 * ```
 */
export function sqliteStore(db: SqliteDatabase, options: SqliteStoreOptions = {}): SqliteStore {
  const engine = engineOf(db);
  const id = options.id ?? engine.id;
  assertName("id", id);
  const handle: SqliteHandle = Object.freeze({
    run: (sql: string, params?: readonly unknown[]) =>
      engine.rootStatement(sql, params, "run") as Promise<SqliteRunResult>,
    get: <T>(sql: string, params?: readonly unknown[]) =>
      engine.rootStatement(sql, params, "get") as Promise<T | undefined>,
    all: <T>(sql: string, params?: readonly unknown[]) =>
      engine.rootStatement(sql, params, "all") as Promise<T[]>,
  });
  const transaction = <T>(work: (tx: SqliteTransactionHandle) => Promise<T>, scope: CallScope) =>
    engine.transaction(work, abortWatchOf(scope));
  const definition = {
    id,
    handle,
    capabilities: { transactions: true, conditionalWrite: true, savepoints: true },
    // better-sqlite3 and bun:sqlite run statements synchronously in this process: a settled call cannot land later.
    fence: { mode: "in_process" } as const,
    transaction,
    // Not async: the handle's own promise is returned as it is, without another one around it.
    apply: (target: SqliteHandle, write: SqliteWrite, scope: CallScope) => {
      try {
        refuseIfAborted(scope);
        return target.run(write.sql, write.params);
      } catch (error) {
        return Promise.reject(error);
      }
    },
    affected: (result: SqliteWriteResult) => result.changes,
    classifyError: classifySqliteError,
    // runAtomic: statements on the transaction's connection run synchronously anyway, so its writes
    // are applied at once, with the same checks, and the transaction commits before it returns.
    [TRANSACT_NOW]: {
      transaction: <T>(work: (tx: SqliteHandle) => T, scope: CallScope) =>
        engine.transactionNow(work, abortWatchOf(scope)),
      apply: (tx: SqliteHandle, write: SqliteWrite, scope: CallScope) => {
        refuseIfAborted(scope);
        return runThrough(tx, write.sql, write.params);
      },
    } satisfies TransactNow<SqliteHandle, SqliteWrite, SqliteWriteResult>,
  };
  return defineStore<SqliteHandle, SqliteWrite, SqliteWriteResult>(definition) as SqliteStore;
}

function refuseIfAborted(scope: CallScope): void {
  const abort = abortWatchOf(scope);
  if (abort.aborted) {
    throw new StoreError("not_committed", "The write was aborted before it was sent.", {
      cause: abort.reason,
    });
  }
}
