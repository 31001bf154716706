import { AsyncLocalStorage } from "node:async_hooks";
import type { AbortWatch } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import { sharedGlobal } from "../sql/shared-global.js";
import type { SqlDialect } from "../sql/sql-dialect.js";
import { SqlTransaction, scopeBehind, type TransactionScope } from "../sql/sql-transaction.js";
import { refuseTransactionControl } from "../sql/transaction-control.js";
import { type Connection, execute, type StatementMode, type SyncSql } from "./connection.js";
import { sqliteDialect } from "./sqlite-dialect.js";
import type { SqliteRunResult, SqliteTransactionHandle } from "./sqlite-handle.js";
import type { WriteGate } from "./write-gate.js";

/** What a transaction needs from the database that owns it. */
export interface TransactionOwner {
  readonly id: string;
  readonly gate: WriteGate;
  assertOpen(): void;
}

type Scope = TransactionScope<SqlTransaction<SqliteTransactionHandle, SyncSql>>;

const HANDLE_SCOPE = Symbol.for("lockstep.sqlite.transaction-scope");

/**
 * The transaction whose work is running in the current async context, shared through globalThis so
 * the ESM and CJS copies of lockstep recognise each other's transactions.
 */
export const transactionStorage: AsyncLocalStorage<SqliteTransaction> = sharedGlobal(
  Symbol.for("lockstep.sqlite.transaction-storage"),
  () => new AsyncLocalStorage<SqliteTransaction>(),
);

/**
 * The innermost transaction whose synchronous work is running right now (the ones it runs inside
 * follow through {@link SqliteTransaction.outerSync}); shared through
 * globalThis like {@link transactionStorage}. Work that never yields needs no async context: while
 * it runs, nothing else does, so a plain variable tells what AsyncLocalStorage would, without
 * turning on the promise hooks AsyncLocalStorage costs every promise in the process.
 */
export const syncTransactions: { current: SqliteTransaction | undefined } = sharedGlobal(
  Symbol.for("lockstep.sqlite.synchronous-transactions"),
  () => ({ current: undefined }),
);

/**
 * One open SQLite transaction on the writer connection. The savepoint scopes and checks are the SQL
 * core's; this adds better-sqlite3's synchronous statements, the checks that the database is still
 * open and that SQLite has not rolled the transaction back on its own, and the `run`/`get`/`all`
 * handle.
 */
export class SqliteTransaction extends SqlTransaction<SqliteTransactionHandle, SyncSql> {
  readonly owner: TransactionOwner;
  readonly connection: Connection;
  readonly handle: SqliteTransactionHandle;
  /** While this transaction's synchronous work runs: the one it runs inside, if any. */
  outerSync: SqliteTransaction | undefined;

  constructor(owner: TransactionOwner, connection: Connection, abort: AbortWatch) {
    super(owner.id, abort);
    this.owner = owner;
    this.connection = connection;
    this.handle = this.handleFor(this.root);
  }

  protected override get dialect(): SqlDialect {
    return sqliteDialect;
  }

  /** Every database opened on one file in this process shares its write gate. */
  override get database(): WriteGate {
    return this.owner.gate;
  }

  override control(sql: string): undefined {
    this.connection.exec(sql);
    return undefined;
  }

  protected override connectionInTransaction(): boolean {
    return this.connection.inTransaction;
  }

  protected override check(scope: Scope): void {
    this.owner.assertOpen();
    super.check(scope);
    if (!this.connection.inTransaction) {
      throw new StoreError(
        "not_committed",
        `SQLite rolled back the transaction on "${this.owner.id}" after an error inside it; a later statement through its handle was refused.`,
      );
    }
  }

  /** Runs one statement through `scope`, with every check its handle makes. */
  statement(
    scope: Scope,
    sql: string,
    params: readonly unknown[] | undefined,
    mode: StatementMode,
  ): unknown {
    this.check(scope);
    refuseTransactionControl(sqliteDialect, sql);
    return execute(this.connection.prepare(sql), params, mode);
  }

  /** Synchronous statements through one scope, with the same checks as its handle. */
  override sqlFor(scope: Scope): SyncSql {
    // Methods rather than arrow-function properties; see handleFor.
    const context = this;
    return {
      run(sql, params) {
        return context.statement(scope, sql, params, "run") as SqliteRunResult;
      },
      get<T>(sql: string, params?: readonly unknown[]) {
        return context.statement(scope, sql, params, "get") as T | undefined;
      },
      all<T>(sql: string, params?: readonly unknown[]) {
        return context.statement(scope, sql, params, "all") as T[];
      },
      exec(sql) {
        context.check(scope);
        refuseTransactionControl(sqliteDialect, sql);
        context.connection.exec(sql);
      },
    };
  }

  protected override handleFor(scope: Scope): SqliteTransactionHandle {
    // Methods rather than arrow-function properties: the same closures, but transpilers that keep
    // function names (tsx, esbuild's keepNames) leave them alone instead of renaming each one.
    const context = this;
    const handle: SqliteTransactionHandle = {
      async run(sql, params) {
        return context.statement(scope, sql, params, "run") as SqliteRunResult;
      },
      async get<T>(sql: string, params?: readonly unknown[]) {
        return context.statement(scope, sql, params, "get") as T | undefined;
      },
      async all<T>(sql: string, params?: readonly unknown[]) {
        return context.statement(scope, sql, params, "all") as T[];
      },
      savepoint<T>(fn: (inner: SqliteTransactionHandle) => Promise<T>) {
        return context.savepoint(scope, fn);
      },
      // In the literal rather than defined afterwards as non-enumerable, which costs more than the
      // rest of the handle: a spread copy of the handle is then the same handle, same scope.
      [HANDLE_SCOPE]: scope,
    } as SqliteTransactionHandle;
    return Object.freeze(handle);
  }
}

/**
 * The open transaction on the database behind `gate` whose work is running in the current context,
 * if any: a write that waits for the gate from inside it would wait for itself.
 */
export function ownTransactionOn(gate: WriteGate): SqliteTransaction | undefined {
  for (let sync = syncTransactions.current; sync !== undefined; sync = sync.outerSync) {
    if (sync.open && sync.owner.gate === gate) return sync;
  }
  const context = transactionStorage.getStore();
  return context?.open === true && context.owner.gate === gate ? context : undefined;
}

/**
 * Gives `target` (an ORM's transaction object) the scope of the lockstep transaction handle `from`,
 * so the saga log accepts it for co-commit as it accepts the handle itself.
 */
export function lendSqliteScope(target: object, from: SqliteTransactionHandle): void {
  Object.defineProperty(target, HANDLE_SCOPE, { value: sqliteScopeOf(from) });
}

/** The transaction scope behind a handle, or `undefined` for anything else (a root handle). */
export function sqliteScopeOf(handle: unknown): TransactionScope<SqliteTransaction> | undefined {
  return scopeBehind<SqliteTransaction>(handle, HANDLE_SCOPE);
}

/**
 * Runs one `run` statement at once through a transaction handle, with every check the handle
 * makes. Anything else (a root handle, whose statements may have to wait for the gate) is refused.
 */
export function runThrough(
  handle: unknown,
  sql: string,
  params: readonly unknown[] | undefined,
): SqliteRunResult {
  const scope = sqliteScopeOf(handle);
  if (scope === undefined) {
    throw new StoreError(
      "not_committed",
      "Expected a SQLite transaction handle; nothing was written.",
    );
  }
  return scope.context.statement(scope, sql, params, "run") as SqliteRunResult;
}
