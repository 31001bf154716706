import { abortWatchOf, type CallScope, raceAbortWatch } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import { messageOf } from "../../core/message-of.js";
import { ErrorKind, isProvablyNotApplied } from "../../model/error-kind.js";
import { type BatchHandle, refuseIfAborted, rootBatchHandle } from "../sql/batch-handle.js";
import { attachScope, type BatchScopeContext } from "../sql/deferred-batch.js";
import { type BatchDriver, batchTables, GuardedBatchSql } from "../sql/guarded-batch-sql.js";
import type { TransactionScope } from "../sql/sql-transaction.js";
import { classifyLibsqlError } from "./classify-libsql-error.js";
import type { LibsqlClientLike, LibsqlDatabase } from "./libsql-database.js";
import { libsqlDriver } from "./libsql-driver.js";

/**
 * Runs `work` in one interactive libSQL write transaction: commits when it resolves; rolls back when
 * it rejects or, at once, when the scope aborts, after which its handle refuses every statement.
 * The transaction holds the database's gate, so statements sent outside it wait until it ends
 * rather than meet its lock. The store's own tables and every log's set-up are made to exist
 * first, for the same reason. Work must write through `tx`, never the root handle, which would
 * wait for this very transaction.
 */
export async function runLibsqlTransaction<T>(
  storeId: string,
  client: LibsqlClientLike,
  database: LibsqlDatabase,
  work: (tx: BatchHandle) => Promise<T>,
  scope: CallScope,
): Promise<T> {
  await Promise.all(database.pending);
  await database.sql.ready();
  refuseIfAborted(scope);
  const release = await database.gate.lock();
  try {
    refuseIfAborted(scope);
    let tx: Awaited<ReturnType<LibsqlClientLike["transaction"]>>;
    try {
      tx = await client.transaction("write");
    } catch (error) {
      throw new StoreError(
        classifyLibsqlError(error) ?? ErrorKind.Transient,
        `The libSQL transaction on "${storeId}" could not begin: ${messageOf(error)}`,
        { cause: error },
      );
    }
    try {
      return await inTransaction(storeId, database, tx, work, scope);
    } finally {
      tx.close();
    }
  } finally {
    release();
  }
}

async function inTransaction<T>(
  storeId: string,
  database: LibsqlDatabase,
  tx: Awaited<ReturnType<LibsqlClientLike["transaction"]>>,
  work: (tx: BatchHandle) => Promise<T>,
  scope: CallScope,
): Promise<T> {
  const txScope: TransactionScope<BatchScopeContext> = {
    context: undefined as unknown as BatchScopeContext,
    active: true,
  };
  const txSql = new GuardedBatchSql(
    whileActive(libsqlDriver(tx, true), txScope, storeId),
    batchTables(database.prefix),
    "libSQL",
    classifyLibsqlError,
    Promise.resolve(),
  );
  (txScope as { context: BatchScopeContext }).context = {
    storeId,
    database: database.sql,
    sqlFor: () => txSql,
  };
  const handle = { ...rootBatchHandle(txSql, scope) };
  attachScope(handle, txScope);
  const abort = abortWatchOf(scope);
  let value: T;
  try {
    value = await raceAbortWatch(work(Object.freeze(handle)), abort, () => abort.reason);
    refuseIfAborted(scope);
  } catch (error) {
    txScope.active = false;
    await tx.rollback().catch(() => {});
    if (StoreError.is(error) && isProvablyNotApplied(error.kind)) throw error;
    throw new StoreError(
      "not_committed",
      `The libSQL transaction on "${storeId}" was rolled back: ${messageOf(error)}`,
      { cause: error },
    );
  }
  txScope.active = false;
  try {
    await tx.commit();
  } catch (error) {
    throw new StoreError(
      classifyLibsqlError(error) ?? ErrorKind.Unknown,
      `The libSQL COMMIT on "${storeId}" failed: ${messageOf(error)}`,
      { cause: error },
    );
  }
  return value;
}

/** `driver`, refusing every call once the transaction's scope has ended. */
function whileActive(
  driver: BatchDriver,
  scope: TransactionScope<BatchScopeContext>,
  storeId: string,
): BatchDriver {
  const check = () => {
    if (!scope.active) {
      throw new StoreError(
        "not_committed",
        `The transaction on "${storeId}" has already ended; a statement through its handle was refused.`,
      );
    }
  };
  return {
    all: async (sql, params) => {
      check();
      return driver.all(sql, params);
    },
    run: async (sql, params) => {
      check();
      return driver.run(sql, params);
    },
    send: async (statements) => {
      check();
      return driver.send(statements);
    },
  };
}
