import type { CallScope } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import { classifyLibsqlError } from "../libsql/classify-libsql-error.js";
import { type LibsqlClientLike, libsqlDatabaseOf } from "../libsql/libsql-database.js";
import { type LibsqlExecutor, libsqlStatement } from "../libsql/libsql-driver.js";
import { assertLibsqlClient, libsqlStore } from "../libsql/libsql-store.js";
import { libsqlExecutorOf } from "../libsql/libsql-transaction.js";
import { refuseIfAborted, writeItems } from "../sql/batch-handle.js";
import { attachScope, deferredScopeOf } from "../sql/deferred-batch.js";
import { defineDrizzleStore } from "./define-drizzle-store.js";
import { buildQueries, sendBatch } from "./drizzle-batch.js";
import { type DrizzleInternals, databaseOver, sessionOver } from "./drizzle-dialect.js";
import type { DrizzleStoreOptions } from "./drizzle-store-options.js";
import type {
  DrizzleBatch,
  DrizzleDatabase,
  DrizzleTransaction,
  DrizzleTransactionHandle,
  DrizzleTransactionStore,
  DrizzleWriteOn,
} from "./drizzle-types.js";

/** What Drizzle's libSQL session calls on its client: statements, batches, transactions. */
interface LibsqlClientOver extends LibsqlExecutor {
  transaction(): Promise<LibsqlExecutor & Record<"commit" | "rollback" | "close", () => unknown>>;
}

/**
 * A client as Drizzle's libSQL session uses it, whose statements go to `executor`. A transaction
 * opened on it is refused: transactions are the store's (`store.transaction`).
 */
function clientOver(executor: LibsqlExecutor, storeId: string): LibsqlClientOver {
  return {
    execute: (statement) => executor.execute(statement),
    batch: (statements, mode) => executor.batch(statements, mode),
    transaction: () =>
      Promise.reject(
        new StoreError(
          "not_committed",
          `A transaction cannot be opened through a step handle of "${storeId}": run the work in the store's transaction (a co-committed step already has one).`,
        ),
      ),
  };
}

/**
 * The client of one Drizzle transaction inside a lockstep transaction. Drizzle's
 * `session.transaction` asks its client for a libSQL transaction, sends the work's statements
 * through it, then commits or rolls it back: lockstep has already begun, and commits or rolls back
 * itself, so the transaction handed over is the lockstep transaction's statements, and its commit,
 * rollback and close do nothing.
 */
function transactionClient(tx: LibsqlExecutor, storeId: string): LibsqlClientOver {
  const idle = async () => {};
  return {
    ...clientOver(tx, storeId),
    transaction: async () => ({
      execute: (statement) => tx.execute(statement),
      batch: (statements) => tx.batch(statements),
      commit: idle,
      rollback: idle,
      close: () => {},
    }),
  };
}

/**
 * `drizzleStore` on libSQL: lockstep's libSQL store on the same client, its transactions and
 * batches with Drizzle sessions over them. A local file (`file:`) runs in this process
 * (`in_process`); a remote database's calls are not fenced.
 */
export function drizzleLibsqlStore<Db extends DrizzleDatabase>(
  db: Db,
  options: DrizzleStoreOptions,
): DrizzleTransactionStore<Db> & { readonly batch: DrizzleBatch<DrizzleTransactionHandle<Db>> } {
  const client = (db as unknown as DrizzleInternals).$client;
  assertLibsqlClient(client, "db.$client");
  const prefix = options.tablePrefix ?? "lockstep_";
  const inner = libsqlStore(client, {
    id: options.id as string,
    tablePrefix: prefix,
    ...(options.versionsNeverReused === undefined
      ? {}
      : { versionsNeverReused: options.versionsNeverReused }),
  });
  const { id } = inner;
  const database = libsqlDatabaseOf(client as LibsqlClientLike, prefix);
  const session = (db as unknown as DrizzleInternals).session;
  // One atomic batch through the guard table, answered with libSQL's own results for Drizzle.
  const batchOf = (queries: readonly unknown[]) =>
    sendBatch(queries, (writes) =>
      database.sql.batchThrough(writeItems(writes), (statements) =>
        database.executor.batch(statements.map(libsqlStatement), "write"),
      ),
    );
  const handle = databaseOver(
    db,
    sessionOver(session, clientOver(database.executor, id), { batch: batchOf }),
  ) as unknown as DrizzleTransactionHandle<Db>;
  const transaction = <T>(work: (tx: DrizzleTransaction<Db>) => Promise<T>, scope: CallScope) =>
    (inner.transaction as NonNullable<typeof inner.transaction>)(async (lockstepTx) => {
      const executor = libsqlExecutorOf(lockstepTx);
      if (executor === undefined)
        throw new Error("lockstep: expected a libSQL transaction handle.");
      const over = sessionOver(session, transactionClient(executor, id));
      return (await over.transaction(async (tx: object) => {
        // The saga log accepts the Drizzle transaction for co-commit as it accepts the handle.
        attachScope(
          tx,
          deferredScopeOf(lockstepTx) as NonNullable<ReturnType<typeof deferredScopeOf>>,
        );
        return work(tx as DrizzleTransaction<Db>);
      })) as T;
    }, scope);
  const batch = async (
    writes: readonly DrizzleWriteOn<DrizzleTransactionHandle<Db>>[],
    scope: CallScope,
  ) => {
    const queries = buildQueries(writes, handle);
    refuseIfAborted(scope);
    return batchOf(queries);
  };
  return defineDrizzleStore(
    {
      id,
      handle,
      // A local file's statements run in this process: a settled call cannot land later.
      fence: {
        mode: (client as { protocol?: unknown }).protocol === "file" ? "in_process" : "none",
      },
      capabilities: { transactions: true, atomicBatch: true },
      versionsNeverReused: options.versionsNeverReused,
      classifyError: classifyLibsqlError,
      driver: "libsql",
    },
    { transaction, batch },
  );
}
