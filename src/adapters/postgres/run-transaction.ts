import { AsyncLocalStorage } from "node:async_hooks";
import type { Pool, PoolClient, QueryResult } from "pg";
import type { CallScope } from "../../core/deadline.js";
import { type PooledTransactionDriver, runPooledTransaction } from "../sql/pooled-transaction.js";
import { sharedGlobal } from "../sql/shared-global.js";
import {
  classifyPostgresError,
  isConnectionLoss,
  isSerializationFailure,
} from "./classify-postgres-error.js";
import { postgresConnections } from "./pooled-connections.js";
import type { PostgresTransactionHandle } from "./postgres-handle.js";
import { PostgresTransaction } from "./postgres-transaction.js";

/** How a store runs its transactions; resolved from `PostgresStoreOptions`. */
export interface TransactionSettings {
  readonly pool: Pool;
  readonly storeId: string;
  /** The `BEGIN` statement, with its isolation level. */
  readonly begin: string;
  /** How many times the whole transaction runs when it fails with 40001 or 40P01. */
  readonly attempts: number;
  readonly enforceDeadline: boolean;
}

// The largest value Postgres accepts for a timeout setting, in milliseconds.
const MAX_TIMEOUT_MS = 2_147_483_647;

// Kept on globalThis under a registered symbol so the ESM and CJS copies of lockstep share it.
const STORAGE_KEY = Symbol.for("lockstep.postgres.open-transaction");

/**
 * The id of the store whose transaction's work is running in the current async context. The root
 * handle refuses queries while it is its own store's: such a query needs a second pooled
 * connection, and once every connection is held by a transaction waiting for one, all of them hang.
 */
export const openTransaction: AsyncLocalStorage<string> = sharedGlobal(
  STORAGE_KEY,
  () => new AsyncLocalStorage<string>(),
);

type PgResult = QueryResult | QueryResult[];

/** What is Postgres's own in running a transaction on a `pg` pool; the rest is the SQL core's. */
const postgresDriver: PooledTransactionDriver<
  TransactionSettings,
  PoolClient,
  PostgresTransactionHandle,
  PgResult
> = {
  ...postgresConnections,
  openTransaction,
  open: (storeId, client, abort) => new PostgresTransaction(storeId, client, abort),
  begin: (settings, scope) => [beginStatement(settings, scope)],
  commitRefused(result, storeId) {
    const command = Array.isArray(result) ? result.at(-1)?.command : result.command;
    return command === "COMMIT"
      ? undefined
      : `Postgres had already failed the transaction on "${storeId}" after an error inside it (its COMMIT answered ${command ?? "nothing"}); nothing of it was committed.`;
  },
  classify: classifyPostgresError,
  isConnectionLoss,
  isRetryable: isSerializationFailure,
};

/**
 * Runs `work` in one transaction on a connection of its own, retrying the whole transaction on a
 * serialization failure or deadlock while attempts remain. Every failure is a {@link StoreError}
 * whose kind says whether anything may have been committed.
 */
export function runTransaction<T>(
  settings: TransactionSettings,
  work: (tx: PostgresTransactionHandle) => Promise<T>,
  scope: CallScope,
): Promise<T> {
  return runPooledTransaction(postgresDriver, settings, work, scope);
}

function beginStatement(settings: TransactionSettings, scope: CallScope): string {
  if (!settings.enforceDeadline) return settings.begin;
  const remaining = Math.ceil(scope.deadline - Date.now());
  // A deadline on a clock that is not the wall clock (a virtual clock in tests) gives no usable
  // timeout; the signal still ends the transaction.
  if (!(remaining > 0 && remaining <= MAX_TIMEOUT_MS)) return settings.begin;
  return `${settings.begin}; SET LOCAL statement_timeout = ${remaining}; SET LOCAL idle_in_transaction_session_timeout = ${remaining}`;
}
