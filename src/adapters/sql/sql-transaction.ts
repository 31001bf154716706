import type { AbortWatch } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import { messageOf } from "../../core/message-of.js";
import type { SqlDialect } from "./sql-dialect.js";

/** One savepoint scope of a transaction: its root, or a `savepoint` opened inside it. */
export interface TransactionScope<Context> {
  /** The transaction the scope belongs to. */
  readonly context: Context;
  /** Cleared when the scope ends; its handle then refuses every statement. */
  active: boolean;
}

/** A scope of a transaction whose handles are `Handle`s and whose log runner is `Sql`. */
type Scope<Handle, Sql> = TransactionScope<SqlTransaction<Handle, Sql>>;

/** What a control statement returns: nothing when the driver ran it at once, else its promise. */
export type ControlResult = undefined | Promise<unknown>;

/**
 * One open SQL transaction: its stack of savepoint scopes and the handles that write through them.
 * A handle refuses statements once its scope has ended, once the transaction has ended or been
 * aborted, and while a savepoint opened inside its scope is still running, so work that outlives
 * its transaction (after an abort) can never write outside it, and no statement silently shares a
 * savepoint's fate.
 *
 * A dialect's transaction adds the handle's shape ({@link SqlTransaction.handleFor}), how a control
 * statement runs on its connection ({@link SqlTransaction.control}) and the statement runner the
 * saga log co-commits through ({@link SqlTransaction.sqlFor}). Beginning, committing and rolling back
 * belong to the adapter, which calls {@link SqlTransaction.end} before it does either.
 */
export abstract class SqlTransaction<Handle, Sql> {
  /** The store the transaction runs on, as messages name it. */
  readonly storeId: string;
  /** The abort of the transaction's scope. */
  readonly abort: AbortWatch;
  /** The scope the transaction's own handle writes through. */
  protected readonly root: Scope<Handle, Sql>;
  readonly #scopes: Scope<Handle, Sql>[] = [];
  #open = true;
  #savepoints = 0;
  #broken: unknown;

  constructor(storeId: string, abort: AbortWatch) {
    this.storeId = storeId;
    this.abort = abort;
    this.root = { context: this, active: true };
    this.#scopes.push(this.root);
  }

  /** The dialect whose savepoint syntax this transaction runs. */
  protected abstract get dialect(): SqlDialect;

  /**
   * Identifies the database the transaction runs on: the same value for every transaction on one
   * database, so the saga log can tell whether a handle may carry its records.
   */
  abstract get database(): unknown;

  /** A frozen handle that writes through `scope`, with every check of {@link SqlTransaction.check}. */
  protected abstract handleFor(scope: Scope<Handle, Sql>): Handle;

  /** The statement runner the saga log writes through `scope` with, with the handle's checks. */
  abstract sqlFor(scope: Scope<Handle, Sql>): Sql;

  /** Runs one of lockstep's own statements (a savepoint's) on the transaction's connection. */
  abstract control(sql: string): ControlResult;

  /** Whether the transaction still accepts statements. */
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

  /** Ends the transaction for every handle; the caller commits, rolls back or drops the connection. */
  end(): void {
    this.#open = false;
    // Popped one by one: cheaper than an iterator and a length write while the code is still cold.
    const scopes = this.#scopes;
    for (let scope = scopes.pop(); scope !== undefined; scope = scopes.pop()) scope.active = false;
  }

  /** Throws a `not_committed` {@link StoreError} unless a statement may run through `scope` now. */
  protected check(scope: Scope<Handle, Sql>): void {
    if (!this.#open) {
      throw new StoreError(
        "not_committed",
        `The transaction on "${this.storeId}" has already ended; a statement through its handle was refused.`,
      );
    }
    if (!scope.active) {
      throw new StoreError(
        "not_committed",
        `The savepoint scope this handle belongs to (on "${this.storeId}") has ended; a statement through it was refused.`,
      );
    }
    if (this.abort.aborted) {
      throw new StoreError(
        "not_committed",
        `The transaction on "${this.storeId}" was aborted; a statement through its handle was refused.`,
        { cause: this.abort.reason },
      );
    }
    if (this.#scopes[this.#scopes.length - 1] !== scope) {
      throw new StoreError(
        "not_committed",
        `A savepoint is open inside this transaction on "${this.storeId}"; write through the handle the savepoint gave you, or its statements would share the savepoint's fate.`,
      );
    }
  }

  /** Whether the connection still holds the transaction a savepoint could be rolled back inside. */
  protected connectionInTransaction(): boolean {
    return true;
  }

  /** Opens savepoint `sql` once `parent` may run statements; at once unless the dialect queues. */
  protected beginSavepoint(_parent: Scope<Handle, Sql>, sql: string): ControlResult {
    return this.control(sql);
  }

  /**
   * Runs `fn` in a savepoint nested in `parent`: if `fn` rejects, only what it wrote is rolled back,
   * the error is rethrown, and the transaction stays usable. A savepoint that cannot be released is
   * rolled back and reported as not committed.
   */
  protected async savepoint<T>(
    parent: Scope<Handle, Sql>,
    fn: (scope: Handle) => Promise<T>,
  ): Promise<T> {
    this.check(parent);
    const name = `lockstep_savepoint_${++this.#savepoints}`;
    const syntax = this.dialect.savepoints;
    // Awaited only when the driver answers with a promise, so a synchronous driver opens the scope
    // before anything else can run.
    const begun = this.beginSavepoint(parent, syntax.open(name));
    if (begun !== undefined) await begun;
    const scope: Scope<Handle, Sql> = { context: this, active: true };
    this.#scopes.push(scope);
    let value: T;
    try {
      value = await fn(this.handleFor(scope));
      this.check(scope);
    } catch (error) {
      this.#closeFrom(scope);
      const rolledBack = this.#rollBackTo(syntax.rollBack(name));
      if (rolledBack !== undefined) await rolledBack;
      throw error;
    }
    this.#closeFrom(scope);
    try {
      const released = this.control(syntax.release(name));
      if (released !== undefined) await released;
    } catch (error) {
      // A statement inside the scope failed and its error was swallowed, so the database marked the
      // transaction failed: undo the scope and say so, rather than report success.
      const rolledBack = this.#rollBackTo(syntax.rollBack(name));
      if (rolledBack !== undefined) await rolledBack;
      throw new StoreError(
        "not_committed",
        `A statement inside a savepoint on "${this.storeId}" failed and the savepoint could not be released; it was rolled back: ${messageOf(error)}`,
        { cause: error },
      );
    }
    return value;
  }

  /**
   * Rolls back to a savepoint; if that fails, the transaction is broken and ends. Skipped when the
   * transaction has ended or the database already rolled all of it back: nothing is left to undo.
   */
  #rollBackTo(sql: string): Promise<void> | undefined {
    if (!this.#open || !this.connectionInTransaction()) return undefined;
    let pending: ControlResult;
    try {
      pending = this.control(sql);
    } catch (error) {
      this.#breakOn(error);
      return undefined;
    }
    return pending?.then(
      () => {},
      (error: unknown) => this.#breakOn(error),
    );
  }

  #breakOn(error: unknown): void {
    this.#broken = error;
    this.end();
  }

  /** Ends `scope` and any scope nested in it that its callback left running. */
  #closeFrom(scope: Scope<Handle, Sql>): void {
    const index = this.#scopes.indexOf(scope);
    if (index < 0) return;
    for (const nested of this.#scopes.slice(index)) nested.active = false;
    this.#scopes.length = index;
  }
}

/**
 * The scope behind a transaction handle, found under the dialect's `key` (a `Symbol.for` key, so the
 * ESM and CJS copies of lockstep recognise each other's handles), or `undefined` for anything else.
 */
export function scopeBehind<Context>(
  handle: unknown,
  key: symbol,
): TransactionScope<Context> | undefined {
  if (typeof handle !== "object" || handle === null) return undefined;
  return (handle as Record<symbol, unknown>)[key] as TransactionScope<Context> | undefined;
}
