import type { CallScope } from "../../core/deadline.js";
import { classifySqliteError } from "../sqlite/classify-sqlite-error.js";
import type { StatementMode } from "../sqlite/connection.js";
import { engineOf, type SqliteDatabase } from "../sqlite/database.js";
import { databaseOfClient } from "../sqlite/database-of-client.js";
import type { SqliteTransactionHandle } from "../sqlite/sqlite-handle.js";
import { sqliteStore } from "../sqlite/sqlite-store.js";
import { lendSqliteScope, sqliteScopeOf } from "../sqlite/sqlite-transaction.js";
import { defineDrizzleStore } from "./define-drizzle-store.js";
import type { DrizzleInternals, DrizzleSession } from "./drizzle-dialect.js";
import { sessionOver } from "./drizzle-dialect.js";
import type { DrizzleStoreOptions } from "./drizzle-store-options.js";
import type {
  DrizzleDatabase,
  DrizzleTransaction,
  DrizzleTransactionHandle,
  DrizzleTransactionStore,
} from "./drizzle-types.js";
import { guardSqliteDb } from "./guard-sqlite-db.js";

/** lockstep's own database on the file of a Drizzle better-sqlite3 database (see `databaseOfClient`). */
export function sqliteDatabaseOf(db: DrizzleDatabase, busyTimeoutMs?: number): SqliteDatabase {
  return databaseOfClient((db as unknown as DrizzleInternals).$client, "db.$client", busyTimeoutMs);
}

/**
 * A better-sqlite3 client as Drizzle's session uses it, whose statements run through one scope of
 * a lockstep transaction, with every check its handle makes. `client.transaction(fn)` only calls
 * `fn`: the lockstep transaction is already open.
 */
function clientOver(tx: SqliteTransactionHandle): object {
  const scope = sqliteScopeOf(tx);
  if (scope === undefined) throw new Error("lockstep: expected a SQLite transaction handle.");
  const { context } = scope;
  const runner =
    (sql: string, mode: StatementMode) =>
    (...params: unknown[]) =>
      context.statement(scope, sql, params, mode);
  return {
    prepare: (sql: string) => ({
      run: runner(sql, "run"),
      all: runner(sql, "all"),
      get: runner(sql, "get"),
      raw: () => ({ all: runner(sql, "raw-all"), get: runner(sql, "raw-get") }),
    }),
    transaction: (fn: (tx: object) => unknown) => {
      const call = (tx: object) => fn(tx);
      return { deferred: call, immediate: call, exclusive: call };
    },
  };
}

/**
 * `drizzleStore` on better-sqlite3: lockstep's SQLite store on the same file, with Drizzle sessions
 * over its transactions, and the user's `db` put behind the file's write gate.
 */
export function drizzleSqliteStore<Db extends DrizzleDatabase>(
  db: Db,
  options: DrizzleStoreOptions,
): DrizzleTransactionStore<Db> {
  const database = sqliteDatabaseOf(db, options.busyTimeoutMs);
  const engine = engineOf(database);
  const inner = sqliteStore(database, options.id === undefined ? {} : { id: options.id });
  const session = (db as unknown as DrizzleInternals).session;
  const proto = Object.getPrototypeOf(session) as DrizzleSession;
  guardSqliteDb(session, engine.gate, inner.id);
  const transaction = <T>(work: (tx: DrizzleTransaction<Db>) => Promise<T>, scope: CallScope) =>
    inner.transaction((lockstepTx) => {
      // Drizzle's better-sqlite3 session builds its transaction object and hands it to
      // `client.transaction(fn)`, which here only calls `fn`: the object comes back at once.
      const over = sessionOver(session, clientOver(lockstepTx), {
        prepareQuery: proto.prepareQuery,
        transaction: proto.transaction,
      });
      const tx = over.transaction((drizzleTx) => drizzleTx) as object;
      lendSqliteScope(tx, lockstepTx);
      return work(tx as DrizzleTransaction<Db>);
    }, scope);
  return defineDrizzleStore(
    {
      id: inner.id,
      // The user's own database, its writes now behind the write gate.
      handle: db as unknown as DrizzleTransactionHandle<Db>,
      // better-sqlite3 runs statements synchronously in this process: a settled call cannot land later.
      fence: { mode: "in_process" },
      capabilities: { transactions: true },
      versionsNeverReused: options.versionsNeverReused,
      classifyError: classifySqliteError,
      driver: "better-sqlite3",
      close: () => database.close(),
    },
    { transaction },
  );
}
