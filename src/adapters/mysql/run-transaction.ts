import { AsyncLocalStorage } from "node:async_hooks";
import type { Pool, PoolConnection } from "mysql2/promise";
import type { CallScope } from "../../core/deadline.js";
import { type PooledTransactionDriver, runPooledTransaction } from "../sql/pooled-transaction.js";
import { sharedGlobal } from "../sql/shared-global.js";
import {
  classifyMysqlError,
  isMysqlConnectionLoss,
  isMysqlDeadlock,
} from "./classify-mysql-error.js";
import type { MysqlTransactionHandle } from "./mysql-handle.js";
import { MysqlTransaction } from "./mysql-transaction.js";
import { mysqlConnections } from "./pooled-connections.js";
import type { MysqlRaw } from "./statements.js";

/** How a store runs its transactions; resolved from `MysqlStoreOptions`. */
export interface TransactionSettings {
  readonly pool: Pool;
  readonly storeId: string;
  /** The `SET TRANSACTION ISOLATION LEVEL …` statement sent before `START TRANSACTION`, if any. */
  readonly isolation: string | undefined;
  /** How many times the whole transaction runs when it fails with a deadlock (1213). */
  readonly attempts: number;
}

// Kept on globalThis under a registered symbol so the ESM and CJS copies of lockstep share it.
const STORAGE_KEY = Symbol.for("lockstep.mysql.open-transaction");

/**
 * The id of the store whose transaction's work is running in the current async context. The root
 * handle refuses queries while it is its own store's: such a query needs a second pooled
 * connection, and once every connection is held by a transaction waiting for one, all of them hang.
 */
export const openMysqlTransaction: AsyncLocalStorage<string> = sharedGlobal(
  STORAGE_KEY,
  () => new AsyncLocalStorage<string>(),
);

const START = ["START TRANSACTION"] as const;

/** What is MySQL's own in running a transaction on a `mysql2` pool; the rest is the SQL core's. */
const mysqlDriver: PooledTransactionDriver<
  TransactionSettings,
  PoolConnection,
  MysqlTransactionHandle,
  MysqlRaw
> = {
  ...mysqlConnections,
  openTransaction: openMysqlTransaction,
  open: (storeId, connection, abort) => new MysqlTransaction(storeId, connection, abort),
  begin: (settings) =>
    settings.isolation === undefined ? START : [settings.isolation, "START TRANSACTION"],
  classify: classifyMysqlError,
  isConnectionLoss: isMysqlConnectionLoss,
  isRetryable: isMysqlDeadlock,
};

/**
 * Runs `work` in one transaction on a connection of its own, retrying the whole transaction on a
 * deadlock while attempts remain. Every failure is a {@link StoreError} whose kind says whether
 * anything may have been committed.
 */
export function runMysqlTransaction<T>(
  settings: TransactionSettings,
  work: (tx: MysqlTransactionHandle) => Promise<T>,
  scope: CallScope,
): Promise<T> {
  return runPooledTransaction(mysqlDriver, settings, work, scope);
}
