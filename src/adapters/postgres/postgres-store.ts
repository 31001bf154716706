import type { Pool, QueryResult } from "pg";
import { abortWatchOf, type CallScope } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import { defineStore, type WriteStore } from "../../core/store.js";
import { assertInteger, assertName, describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import { sendUnlessAborted } from "../sql/root-query.js";
import { assertPool } from "./assert-pool.js";
import { classifyPostgresError } from "./classify-postgres-error.js";
import { assertPostgresPermissions } from "./deno-permissions.js";
import type {
  PostgresHandle,
  PostgresQueryResult,
  PostgresTransactionHandle,
  PostgresWrite,
  PostgresWriteResult,
} from "./postgres-handle.js";
import { runTransaction, type TransactionSettings } from "./run-transaction.js";
import { refuseRootQuery, scopedQuery } from "./scoped-query.js";
import { normalizeResult } from "./statements.js";
import { postgresStoreId } from "./store-id.js";

/** The isolation levels a {@link PostgresStore} can run its transactions at. */
export type PostgresIsolation = "read committed" | "repeatable read" | "serializable";

const ISOLATIONS: readonly PostgresIsolation[] = [
  "read committed",
  "repeatable read",
  "serializable",
];

/** Options of {@link postgresStore}. */
export interface PostgresStoreOptions {
  /**
   * The store's logical identity, a name you choose for the database (`"orders-db"`). It is logged
   * in every saga's definition and compared on recovery, so name it: a derived id changes when the
   * pool reaches the same server by another spelling (`127.0.0.1` and `localhost`), and recovery
   * then refuses the saga as `definition_mismatch`. A saga log declares it with `store` or
   * `coCommitWith` to commit its records inside this store's transactions. Stores on different
   * databases need different ids.
   *
   * @default `postgres:<host>:<port>/<database>` from the pool's options (see `postgresStoreId`)
   * @example `postgresStore(pool, { id: "orders-db" })`
   */
  readonly id?: string;
  /**
   * The isolation level of every transaction. Under `"serializable"` and `"repeatable read"`,
   * Postgres may fail a transaction with a serialization failure (`40001`) that a rerun resolves.
   *
   * @default "read committed"
   * @example `postgresStore(pool, { isolation: "serializable" })`
   */
  readonly isolation?: PostgresIsolation;
  /**
   * How many times, at most, the whole transaction runs when it fails with a serialization failure
   * (`40001`) or a deadlock (`40P01`) — both roll it back entirely, so a rerun is safe. The `work`
   * callback then runs again from the start on a fresh transaction, so it must be re-runnable: no
   * side effects outside the transaction, no state carried over from a failed run. When attempts
   * run out the failure is a `transient` `StoreError`, which the saga runner may retry in turn.
   *
   * @default 3 under `"serializable"` and `"repeatable read"`, 1 (no rerun) under `"read committed"`
   * @example `postgresStore(pool, { isolation: "serializable", attempts: 5 })`
   */
  readonly attempts?: number;
  /**
   * Whether each transaction sets `statement_timeout` and `idle_in_transaction_session_timeout`
   * (with `SET LOCAL`) to the time left until its scope's deadline, measured on the wall clock, so
   * the server ends a transaction that outlives its deadline even if this process stops responding.
   * A deadline that is not in the wall clock's future (a virtual clock) sets nothing; the scope's
   * signal ends the transaction either way.
   *
   * @default true
   * @example `postgresStore(pool, { enforceDeadline: false })`
   */
  readonly enforceDeadline?: boolean;
}

/**
 * A Postgres store over a `pg.Pool`: transactions that own one pooled connection, guarded writes
 * (`UPDATE … WHERE version = $1` reports `rowCount` 0 when it loses) and savepoints. Its transaction
 * callback receives a {@link PostgresTransactionHandle}.
 */
export interface PostgresStore
  extends WriteStore<PostgresHandle, PostgresWrite, PostgresWriteResult> {
  /**
   * Runs `work` in one transaction on a connection checked out of the pool for it alone, committing
   * if `work` resolves and rolling back if it rejects. Failures reject with a {@link StoreError}:
   *
   * - `work` rejected, or `scope.signal` aborted before `COMMIT` was sent: the transaction is rolled
   *   back (an abort destroys the connection at once, so nothing waits for a running statement) and
   *   the kind says nothing applied — the error's own kind when it already says so, `transient` for
   *   a lost connection, serialization failure or deadlock, `not_committed` otherwise;
   * - `COMMIT` refused by Postgres (a deferred constraint, a serialization failure): rolled back,
   *   `not_committed` or `transient`;
   * - anything else during `COMMIT` — the connection lost, the backend terminated, an abort while it
   *   was in flight: `unknown`, because the commit may have landed. A saga step probes it.
   *
   * With `isolation` other than read committed, a serialization failure or deadlock reruns `work`
   * (see `attempts`), so `work` must be re-runnable.
   */
  readonly transaction: <T>(
    work: (tx: PostgresTransactionHandle) => Promise<T>,
    scope: CallScope,
  ) => Promise<T>;
}

/**
 * Wraps a `pg.Pool` as a lockstep store with `transactions`, `conditionalWrite` and `savepoints`.
 *
 * The root handle runs each statement with `pool.query` (its own pooled connection, committed on
 * its own). Each transaction checks one connection out of the pool and its handle runs every
 * statement on it, one at a time; the root handle never touches that connection, so no statement
 * from another request can join the transaction. Prepared writes (`{ text, values }`) are applied
 * with `apply` and `affected` is their `rowCount`. Attach a `pool.on("error", …)` listener, as `pg`
 * requires for idle connections the server closes.
 *
 * @example
 * ```ts
 * const pool = new Pool({ connectionString: process.env.DATABASE_URL });
 * const store = postgresStore(pool);
 * await store.transaction(async (tx) => {
 *   await tx.query("UPDATE accounts SET balance = balance - $1 WHERE id = $2", [10, "alice"]);
 *   await tx.query("UPDATE accounts SET balance = balance + $1 WHERE id = $2", [10, "bob"]);
 * }, { signal: AbortSignal.timeout(5000), deadline: Date.now() + 5000 });
 * ```
 */
export function postgresStore(pool: Pool, options: PostgresStoreOptions = {}): PostgresStore {
  assertPool(pool);
  assertPostgresPermissions(pool, "postgresStore (lockstep/postgres)");
  const id = options.id ?? postgresStoreId(pool);
  assertName("id", id);
  const isolation = options.isolation ?? "read committed";
  if (!ISOLATIONS.includes(isolation)) {
    throw new LockstepDefinitionError(
      `Expected \`isolation\` to be one of ${ISOLATIONS.map((i) => `"${i}"`).join(", ")}, got ${describeValue(isolation)}.`,
    );
  }
  const attempts = options.attempts ?? (isolation === "read committed" ? 1 : 3);
  assertInteger("attempts", attempts, 1);
  const enforceDeadline = options.enforceDeadline ?? true;
  if (typeof enforceDeadline !== "boolean") {
    throw new LockstepDefinitionError(
      `Expected \`enforceDeadline\` to be a boolean, got ${describeValue(enforceDeadline)}.`,
    );
  }
  const settings: TransactionSettings = {
    pool,
    storeId: id,
    begin:
      isolation === "read committed" ? "BEGIN" : `BEGIN ISOLATION LEVEL ${isolation.toUpperCase()}`,
    attempts,
    enforceDeadline,
  };
  const handle: PostgresHandle = Object.freeze({
    query: async <T>(sql: string, params?: readonly unknown[]): Promise<PostgresQueryResult<T>> => {
      refuseRootQuery(id, sql);
      // Text and values rather than a config object, which pg would copy property by property.
      const result = (await pool.query(
        sql,
        params === undefined ? undefined : [...params],
      )) as unknown;
      return normalizeResult<T>(result as QueryResult | QueryResult[]);
    },
  });
  return defineStore<PostgresHandle, PostgresWrite, PostgresWriteResult>({
    id,
    handle,
    handleFor: (scope) => scopedHandle(pool, id, scope),
    // A timed-out or aborted call's backend is terminated and waited for until it is gone.
    fence: { mode: "kill_and_wait" },
    capabilities: { transactions: true, conditionalWrite: true, savepoints: true },
    transaction: <T>(work: (tx: PostgresTransactionHandle) => Promise<T>, scope: CallScope) =>
      runTransaction(settings, work, scope),
    apply: (target, write, scope) =>
      sendUnlessAborted(scope, () => target.query(write.text, write.values)),
    affected: (result) => result.rowCount,
    classifyError: classifyPostgresError,
  }) as PostgresStore;
}

/**
 * The root handle for one call: each query runs on a pooled connection of its own and is ended
 * with the call (see `scopedQuery`).
 */
function scopedHandle(pool: Pool, id: string, scope: CallScope): PostgresHandle {
  const abort = abortWatchOf(scope);
  return Object.freeze({
    query: async <T>(sql: string, params?: readonly unknown[]): Promise<PostgresQueryResult<T>> =>
      normalizeResult<T>(await scopedQuery(pool, id, abort, sql, params)),
  });
}
