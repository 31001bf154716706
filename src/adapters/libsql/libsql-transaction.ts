import { abortWatchOf, type CallScope, raceAbortWatch } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import { messageOf } from "../../core/message-of.js";
import { ErrorKind, isProvablyNotApplied } from "../../model/error-kind.js";
import { type BatchHandle, refuseIfAborted, rootBatchHandle } from "../sql/batch-handle.js";
import { attachScope, type BatchScopeContext } from "../sql/deferred-batch.js";
import { batchTables, GuardedBatchSql } from "../sql/guarded-batch-sql.js";
import type { TransactionScope } from "../sql/sql-transaction.js";
import { refuseTransactionControl } from "../sql/transaction-control.js";
import { sqliteDialect } from "../sqlite/sqlite-dialect.js";
import { classifyLibsqlError } from "./classify-libsql-error.js";
import type { LibsqlClientLike, LibsqlDatabase } from "./libsql-database.js";
import { type LibsqlExecutor, libsqlDriver } from "./libsql-driver.js";

// Where a transaction's handle keeps its statements with the client's own results, for an ORM.
const EXECUTOR = Symbol.for("lockstep.libsql.transaction-executor");

/**
 * The statements of the libSQL transaction behind a lockstep transaction handle, answering with
 * the client's own results, with every check the handle makes: what an ORM's transaction object
 * sends through. `undefined` for anything but such a handle.
 */
export function libsqlExecutorOf(handle: unknown): LibsqlExecutor | undefined {
  if (typeof handle !== "object" || handle === null) return undefined;
  return (handle as Record<symbol, LibsqlExecutor | undefined>)[EXECUTOR];
}

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
  const active = whileActive(tx, txScope, storeId);
  const txSql = new GuardedBatchSql(
    libsqlDriver(active, true),
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
  Object.defineProperty(handle, EXECUTOR, { value: active });
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

/**
 * `tx`, refusing every statement once the transaction's scope has ended, and transaction control
 * (`COMMIT`, `SAVEPOINT`, …) always: the transaction is lockstep's to end.
 */
function whileActive(
  tx: LibsqlExecutor,
  scope: TransactionScope<BatchScopeContext>,
  storeId: string,
): LibsqlExecutor {
  const check = (sql: readonly string[]) => {
    if (!scope.active) {
      throw new StoreError(
        "not_committed",
        `The transaction on "${storeId}" has already ended; a statement through its handle was refused.`,
      );
    }
    for (const text of sql) refuseTransactionControl(sqliteDialect, text);
  };
  return {
    execute: async (statement) => {
      check([statement.sql]);
      return tx.execute(statement);
    },
    batch: async (statements) => {
      check(statements.map((s) => s.sql));
      return tx.batch(statements);
    },
  };
}
