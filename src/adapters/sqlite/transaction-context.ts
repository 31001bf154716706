import { AsyncLocalStorage } from "node:async_hooks";
import type { AbortWatch } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import {
  type Connection,
  execute,
  refuseTransactionControl,
  type StatementMode,
  type SyncSql,
} from "./connection.js";
import type { SqliteRunResult, SqliteTransactionHandle } from "./sqlite-handle.js";
import type { WriteGate } from "./write-gate.js";

/** What a transaction needs from the database that owns it. */
export interface TransactionOwner {
  readonly id: string;
  readonly gate: WriteGate;
  assertOpen(): void;
}

interface Scope {
  readonly context: TransactionContext;
  active: boolean;
}

const HANDLE_SCOPE = Symbol.for("lockstep.sqlite.transaction-scope");
const STORAGE_KEY = Symbol.for("lockstep.sqlite.transaction-storage");
const SYNC_KEY = Symbol.for("lockstep.sqlite.synchronous-transactions");

/**
 * The transaction whose work is running in the current async context, shared through globalThis so
 * the ESM and CJS copies of lockstep recognise each other's transactions.
 */
export const transactionStorage: AsyncLocalStorage<TransactionContext> = (() => {
  const holder = globalThis as Record<symbol, unknown>;
  const existing = holder[STORAGE_KEY] as AsyncLocalStorage<TransactionContext> | undefined;
  if (existing !== undefined) return existing;
  const created = new AsyncLocalStorage<TransactionContext>();
  holder[STORAGE_KEY] = created;
  return created;
})();

/**
 * The innermost transaction whose synchronous work is running right now (the ones it runs inside
 * follow through {@link TransactionContext.outerSync}); shared through
 * globalThis like {@link transactionStorage}. Work that never yields needs no async context: while
 * it runs, nothing else does, so a plain variable tells what AsyncLocalStorage would, without
 * turning on the promise hooks AsyncLocalStorage costs every promise in the process.
 */
export const syncTransactions: { current: TransactionContext | undefined } = (() => {
  const holder = globalThis as Record<symbol, unknown>;
  const existing = holder[SYNC_KEY] as { current: TransactionContext | undefined } | undefined;
  if (existing !== undefined) return existing;
  const created: { current: TransactionContext | undefined } = { current: undefined };
  holder[SYNC_KEY] = created;
  return created;
})();

/**
 * One open SQLite transaction: its connection, its stack of savepoint scopes, and the handles that
 * write through them. A handle refuses statements once its scope has ended, so work that outlives its
 * transaction (after an abort) can never write outside it.
 */
export class TransactionContext {
  readonly owner: TransactionOwner;
  readonly connection: Connection;
  /** The abort of the transaction's scope. */
  readonly abort: AbortWatch;
  readonly handle: SqliteTransactionHandle;
  /** While this transaction's synchronous work runs: the one it runs inside, if any. */
  outerSync: TransactionContext | undefined;
  readonly #scopes: Scope[] = [];
  #open = true;
  #savepoints = 0;
  #broken: unknown;

  constructor(owner: TransactionOwner, connection: Connection, abort: AbortWatch) {
    this.owner = owner;
    this.connection = connection;
    this.abort = abort;
    const root: Scope = { context: this, active: true };
    this.#scopes.push(root);
    this.handle = this.#handleFor(root);
  }

  /** Whether the transaction is still open. */
  get open(): boolean {
    return this.#open;
  }

  /**
   * Set when a savepoint could not be rolled back: the transaction then holds writes its work believes
   * undone, so it must not commit, whatever the work does next.
   */
  get broken(): unknown {
    return this.#broken;
  }

  /** Ends the transaction for every handle; the caller commits or rolls back the connection. */
  end(): void {
    this.#open = false;
    // Popped one by one: cheaper than an iterator and a length write while the code is still cold.
    const scopes = this.#scopes;
    for (let scope = scopes.pop(); scope !== undefined; scope = scopes.pop()) scope.active = false;
  }

  /** Synchronous statements through one scope, with the same checks as its handle. */
  sync(scope: Scope): SyncSql {
    // Methods rather than arrow-function properties; see #handleFor.
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
        context.#check(scope);
        refuseTransactionControl(sql);
        context.connection.exec(sql);
      },
    };
  }

  #check(scope: Scope): void {
    this.owner.assertOpen();
    if (!this.#open) {
      throw new StoreError(
        "not_committed",
        `The transaction on "${this.owner.id}" has already ended; a statement through its handle was refused.`,
      );
    }
    if (!scope.active) {
      throw new StoreError(
        "not_committed",
        `The savepoint scope this handle belongs to (on "${this.owner.id}") has ended; a statement through it was refused.`,
      );
    }
    if (this.abort.aborted) {
      throw new StoreError(
        "not_committed",
        `The transaction on "${this.owner.id}" was aborted; a statement through its handle was refused.`,
        { cause: this.abort.reason },
      );
    }
    if (this.#scopes[this.#scopes.length - 1] !== scope) {
      throw new StoreError(
        "not_committed",
        `A savepoint is open inside this transaction on "${this.owner.id}"; write through the handle the savepoint gave you, or its statements would share the savepoint's fate.`,
      );
    }
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
    this.#check(scope);
    refuseTransactionControl(sql);
    return execute(this.connection.prepare(sql), params, mode);
  }

  async #savepoint<T>(
    parent: Scope,
    fn: (scope: SqliteTransactionHandle) => Promise<T>,
  ): Promise<T> {
    this.#check(parent);
    const name = `lockstep_savepoint_${++this.#savepoints}`;
    this.connection.exec(`SAVEPOINT ${name}`);
    const scope: Scope = { context: this, active: true };
    this.#scopes.push(scope);
    let value: T;
    try {
      value = await fn(this.#handleFor(scope));
      this.#check(scope);
    } catch (error) {
      this.#closeFrom(scope);
      // When SQLite already rolled back the whole transaction, or it ended, there is no savepoint left
      // to roll back to.
      if (this.#open && this.connection.inTransaction) {
        try {
          this.connection.exec(`ROLLBACK TO ${name}`);
          this.connection.exec(`RELEASE ${name}`);
        } catch (rollbackError) {
          this.#broken = rollbackError;
          this.end();
        }
      }
      throw error;
    }
    this.#closeFrom(scope);
    this.connection.exec(`RELEASE ${name}`);
    return value;
  }

  /** Ends `scope` and any scope nested in it that its callback left running. */
  #closeFrom(scope: Scope): void {
    const index = this.#scopes.indexOf(scope);
    if (index < 0) return;
    for (const nested of this.#scopes.slice(index)) nested.active = false;
    this.#scopes.length = index;
  }

  #handleFor(scope: Scope): SqliteTransactionHandle {
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
        return context.#savepoint(scope, fn);
      },
      // In the literal rather than defined afterwards as non-enumerable, which costs more than the
      // rest of the handle: a spread copy of the handle is then the same handle, same scope.
      [HANDLE_SCOPE]: scope,
    } as SqliteTransactionHandle;
    return Object.freeze(handle);
  }
}

/** The transaction and scope behind a handle, or `undefined` for anything else (a root handle). */
export function transactionScopeOf(
  handle: unknown,
): { readonly context: TransactionContext; readonly sql: SyncSql } | undefined {
  if (typeof handle !== "object" || handle === null) return undefined;
  const scope = (handle as Record<symbol, unknown>)[HANDLE_SCOPE] as Scope | undefined;
  if (scope === undefined) return undefined;
  return { context: scope.context, sql: scope.context.sync(scope) };
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
  const scope =
    typeof handle === "object" && handle !== null
      ? ((handle as Record<symbol, unknown>)[HANDLE_SCOPE] as Scope | undefined)
      : undefined;
  if (scope === undefined) {
    throw new StoreError(
      "not_committed",
      "Expected a SQLite transaction handle; nothing was written.",
    );
  }
  return scope.context.statement(scope, sql, params, "run") as SqliteRunResult;
}
