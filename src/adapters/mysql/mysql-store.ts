import type { Pool } from "mysql2/promise";
import { abortWatchOf, type CallScope } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import { defineStore, type WriteStore } from "../../core/store.js";
import { assertInteger, assertName, describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import { sendUnlessAborted } from "../sql/root-query.js";
import { assertPool } from "./assert-pool.js";
import { classifyMysqlError } from "./classify-mysql-error.js";
import type {
  MysqlHandle,
  MysqlQueryResult,
  MysqlTransactionHandle,
  MysqlWrite,
  MysqlWriteResult,
} from "./mysql-handle.js";
import { runMysqlTransaction, type TransactionSettings } from "./run-transaction.js";
import { refuseRootQuery, scopedQuery } from "./scoped-query.js";
import { type MysqlRaw, normalizeResult, paramsOf } from "./statements.js";
import { mysqlStoreId } from "./store-id.js";

/** The isolation levels a {@link MysqlStore} can run its transactions at. */
export type MysqlIsolation = "read committed" | "repeatable read" | "serializable";

const ISOLATIONS: readonly MysqlIsolation[] = ["read committed", "repeatable read", "serializable"];

/** Options of {@link mysqlStore}. */
export interface MysqlStoreOptions {
  /**
   * The store's logical identity, a name you choose for the database (`"orders-db"`). It is logged
   * in every saga's definition and compared on recovery, so name it: a derived id changes when the
   * pool reaches the same server by another spelling (`127.0.0.1` and `localhost`). A saga log
   * declares it with `store` or `coCommitWith` to commit its records inside this store's
   * transactions. Stores on different databases need different ids.
   *
   * @default `mysql:<host>:<port>/<database>` from the pool's settings (see `mysqlStoreId`)
   * @example `mysqlStore(pool, { id: "orders-db" })`
   */
  readonly id?: string;
  /**
   * The isolation level of every transaction, set with `SET TRANSACTION ISOLATION LEVEL` before it
   * starts (one more round trip per transaction). Without it, transactions run at the session's
   * level, InnoDB's `REPEATABLE READ` unless the server or pool says otherwise; `"read committed"`
   * takes fewer gap locks, so deadlocks are rarer, and matches Postgres's default.
   *
   * @default the session's own level (no statement is sent)
   * @example `mysqlStore(pool, { isolation: "read committed" })`
   */
  readonly isolation?: MysqlIsolation;
  /**
   * How many times, at most, the whole transaction runs when InnoDB fails it with a deadlock (1213),
   * which rolls it back entirely, so a rerun is safe. The `work` callback then runs again from the
   * start on a fresh transaction, so it must be re-runnable. When attempts run out the failure is a
   * `transient` `StoreError`, which the saga runner may retry in turn.
   *
   * @default 3
   * @example `mysqlStore(pool, { attempts: 5 })`
   */
  readonly attempts?: number;
}

/**
 * A MySQL or MariaDB (InnoDB) store over a `mysql2` promise pool: transactions that own one pooled
 * connection, guarded writes (`UPDATE … WHERE version = ?` reports `rowCount` 0 when it loses) and
 * savepoints. Its transaction callback receives a {@link MysqlTransactionHandle}.
 */
export interface MysqlStore extends WriteStore<MysqlHandle, MysqlWrite, MysqlWriteResult> {
  /**
   * Runs `work` in one transaction on a connection checked out of the pool for it alone, committing
   * if `work` resolves and rolling back if it rejects. Failures reject with a {@link StoreError}:
   *
   * - `work` rejected, or `scope.signal` aborted before `COMMIT` was sent: the transaction is rolled
   *   back (an abort kills the connection's server thread at once, so nothing waits for a running
   *   statement) and the kind says nothing applied — the error's own kind when it already says so,
   *   `transient` for a lost connection, deadlock or lock wait timeout, `not_committed` otherwise;
   * - a deadlock or lock wait timeout inside the transaction rolls all of it back: later statements
   *   are refused (the connection would run them in autocommit, outside the transaction) and a
   *   deadlock reruns `work` while `attempts` remain;
   * - `COMMIT` lost with its connection, killed, or aborted while in flight: `unknown`, because the
   *   commit may have landed. A saga step probes it, after the connection's thread is gone.
   */
  readonly transaction: <T>(
    work: (tx: MysqlTransactionHandle) => Promise<T>,
    scope: CallScope,
  ) => Promise<T>;
}

/**
 * Wraps a `mysql2` promise pool as a lockstep store with `transactions`, `conditionalWrite` and
 * `savepoints`, on MySQL 8 or MariaDB 10.6 and later with InnoDB tables.
 *
 * The root handle runs each statement on a pooled connection of its own, in autocommit. Each
 * transaction checks one connection out of the pool and its handle runs every statement on it, one
 * at a time; the root handle never touches that connection, so no statement from another request
 * can join the transaction. Prepared writes (`{ sql, values }`) are applied with `apply` and
 * `affected` is their `rowCount` (rows matched).
 *
 * Its attempt fence is `kill_and_wait`: when a call's scope aborts, the connection it runs on is
 * killed (`KILL <thread id>`, from a connection of its own) and the call settles only once the
 * server no longer lists the thread, so a statement lockstep gave up on can never land afterwards.
 *
 * @example
 * ```ts
 * import { createPool } from "mysql2/promise";
 * const pool = createPool({ host: "127.0.0.1", user: "app", database: "shop" });
 * const store = mysqlStore(pool, { id: "shop-db" });
 * await store.transaction(async (tx) => {
 *   await tx.query("UPDATE accounts SET balance = balance - ? WHERE id = ?", [10, "alice"]);
 *   await tx.query("UPDATE accounts SET balance = balance + ? WHERE id = ?", [10, "bob"]);
 * }, { signal: AbortSignal.timeout(5000), deadline: Date.now() + 5000 });
 * ```
 */
export function mysqlStore(pool: Pool, options: MysqlStoreOptions = {}): MysqlStore {
  assertPool(pool);
  const id = options.id ?? mysqlStoreId(pool);
  assertName("id", id);
  const isolation = options.isolation;
  if (isolation !== undefined && !ISOLATIONS.includes(isolation)) {
    throw new LockstepDefinitionError(
      `Expected \`isolation\` to be one of ${ISOLATIONS.map((i) => `"${i}"`).join(", ")}, got ${describeValue(isolation)}.`,
    );
  }
  const attempts = options.attempts ?? 3;
  assertInteger("attempts", attempts, 1);
  const settings: TransactionSettings = {
    pool,
    storeId: id,
    isolation:
      isolation === undefined
        ? undefined
        : `SET TRANSACTION ISOLATION LEVEL ${isolation.toUpperCase()}`,
    attempts,
  };
  const handle: MysqlHandle = Object.freeze({
    query: async <T>(sql: string, params?: readonly unknown[]): Promise<MysqlQueryResult<T>> => {
      refuseRootQuery(id, sql);
      return normalizeResult<T>((await pool.query(sql, paramsOf(params))) as unknown as MysqlRaw);
    },
  });
  return defineStore<MysqlHandle, MysqlWrite, MysqlWriteResult>({
    id,
    handle,
    handleFor: (scope) => scopedHandle(pool, id, scope),
    // A timed-out or aborted call's connection is killed and waited for until it is gone.
    fence: { mode: "kill_and_wait" },
    capabilities: { transactions: true, conditionalWrite: true, savepoints: true },
    transaction: <T>(work: (tx: MysqlTransactionHandle) => Promise<T>, scope: CallScope) =>
      runMysqlTransaction(settings, work, scope),
    apply: (target, write, scope) =>
      sendUnlessAborted(scope, () => target.query(write.sql, write.values)),
    affected: (result) => result.rowCount,
    classifyError: classifyMysqlError,
  }) as MysqlStore;
}

/** The root handle for one call: each query through {@link scopedQuery}, under the call's scope. */
function scopedHandle(pool: Pool, id: string, scope: CallScope): MysqlHandle {
  const abort = abortWatchOf(scope);
  return Object.freeze({
    query: async <T>(sql: string, params?: readonly unknown[]): Promise<MysqlQueryResult<T>> =>
      normalizeResult<T>(await scopedQuery(pool, id, abort, sql, params)),
  });
}
