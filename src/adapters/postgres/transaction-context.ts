import type { PoolClient, QueryResult } from "pg";
import type { AbortWatch } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import type { PostgresQueryResult, PostgresTransactionHandle } from "./postgres-handle.js";
import { messageOf, normalizeResult, refuseTransactionControl } from "./statements.js";

interface Scope {
  active: boolean;
}

/** Runs SQL inside a transaction scope, with that scope's checks; what the saga log co-commits through. */
export type ScopedSql = <T>(
  sql: string,
  params?: readonly unknown[],
) => Promise<PostgresQueryResult<T>>;

const HANDLE_SCOPE = Symbol.for("lockstep.postgres.transaction-scope");

/**
 * One open Postgres transaction: the pooled connection it owns, its stack of savepoint scopes, and
 * the handles that write through them. Statements run one at a time in the order issued, so `pg`
 * never queues them itself. A handle refuses statements once its scope has ended, so work that
 * outlives its transaction (after an abort) can never write outside it.
 */
export class TransactionContext {
  readonly storeId: string;
  /** The abort of the transaction's scope. */
  readonly abort: AbortWatch;
  readonly handle: PostgresTransactionHandle;
  readonly #client: PoolClient;
  readonly #scopes: Scope[] = [];
  #open = true;
  #savepoints = 0;
  #broken: unknown;
  #lost: unknown;
  /** The last statement enqueued; a statement queued behind it waits for it to settle. */
  #last: Promise<unknown> = Promise.resolve();
  #inFlight = 0;
  readonly #afterValue: <R>(value: R) => R;
  readonly #afterError: (error: unknown) => never;

  constructor(storeId: string, client: PoolClient, abort: AbortWatch) {
    this.storeId = storeId;
    this.#client = client;
    this.abort = abort;
    this.#afterValue = TransactionContext.#countsDown(this);
    this.#afterError = TransactionContext.#countsDownThrowing(this);
    const root: Scope = { active: true };
    this.#scopes.push(root);
    this.handle = this.#handleFor(root);
  }

  // Factories rather than arrow-function fields, so that transpilers that keep function names (tsx,
  // esbuild's keepNames) do not rename fresh functions for every transaction.
  static #countsDown(context: TransactionContext): <R>(value: R) => R {
    return (value) => {
      context.#inFlight--;
      return value;
    };
  }

  static #countsDownThrowing(context: TransactionContext): (error: unknown) => never {
    return (error) => {
      context.#inFlight--;
      throw error;
    };
  }

  /** Whether the transaction still accepts statements. */
  get open(): boolean {
    return this.#open;
  }

  /** How many statements are running or queued on the connection. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Set when a savepoint could not be rolled back: the transaction then holds writes its work believes
   * undone, so it must not commit, whatever the work does next.
   */
  get broken(): unknown {
    return this.#broken;
  }

  /** The connection error `pg` reported while this transaction held the connection, if any. */
  get lost(): unknown {
    return this.#lost;
  }

  /** Records a connection error reported by the client's `error` event. */
  connectionFailed(error: unknown): void {
    this.#lost ??= error;
  }

  /** Ends the transaction for every handle; the caller commits, rolls back or destroys the connection. */
  end(): void {
    this.#open = false;
    for (const scope of this.#scopes) scope.active = false;
    this.#scopes.length = 0;
  }

  /** Runs a statement of lockstep's own (`BEGIN`, `COMMIT`, …) after every queued one. */
  control(sql: string): Promise<QueryResult | QueryResult[]> {
    return this.#enqueue(() => this.#send(sql, undefined));
  }

  /** SQL through one scope, with the same checks as its handle. */
  scoped(scope: Scope): ScopedSql {
    return <T>(sql: string, params?: readonly unknown[]) => this.#statement<T>(scope, sql, params);
  }

  #send(sql: string, params: readonly unknown[] | undefined): Promise<QueryResult | QueryResult[]> {
    if (this.#lost !== undefined) {
      return Promise.reject(
        new StoreError(
          "transient",
          `The connection of the transaction on "${this.storeId}" failed before this statement was sent (${messageOf(this.#lost)}); Postgres rolls the transaction back.`,
          { cause: this.#lost },
        ),
      );
    }
    // Text and values rather than a config object, which pg would copy property by property.
    return this.#client.query(
      sql,
      params === undefined ? undefined : [...params],
    ) as unknown as Promise<QueryResult | QueryResult[]>;
  }

  /**
   * Runs `run` once every statement enqueued before it has settled, whatever its outcome; at once,
   * without waiting a turn, when none is running or queued.
   */
  #enqueue<R>(run: () => Promise<R>): Promise<R> {
    let result: Promise<R>;
    if (this.#inFlight === 0) {
      try {
        result = run();
      } catch (error) {
        result = Promise.reject(error);
      }
    } else {
      result = this.#last.then(run, run);
    }
    this.#inFlight++;
    const settled = result.then(this.#afterValue, this.#afterError);
    this.#last = settled;
    return settled;
  }

  #check(scope: Scope): void {
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
    if (this.#scopes.at(-1) !== scope) {
      throw new StoreError(
        "not_committed",
        `A savepoint is open inside this transaction on "${this.storeId}"; write through the handle the savepoint gave you, or its statements would share the savepoint's fate.`,
      );
    }
  }

  #statement<T>(
    scope: Scope,
    sql: string,
    params: readonly unknown[] | undefined,
  ): Promise<PostgresQueryResult<T>> {
    try {
      this.#check(scope);
      refuseTransactionControl(sql);
    } catch (error) {
      return Promise.reject(error);
    }
    // Checked again when a queued statement's turn comes: the scope may have ended while it waited.
    // One that goes out at once was checked just now.
    const result =
      this.#inFlight === 0
        ? this.#enqueue(() => this.#send(sql, params))
        : this.#enqueue(async () => {
            this.#check(scope);
            return this.#send(sql, params);
          });
    return result.then(normalizeResult<T>);
  }

  async #savepoint<T>(
    parent: Scope,
    fn: (scope: PostgresTransactionHandle) => Promise<T>,
  ): Promise<T> {
    this.#check(parent);
    const name = `lockstep_savepoint_${++this.#savepoints}`;
    await this.#enqueue(async () => {
      this.#check(parent);
      return this.#send(`SAVEPOINT ${name}`, undefined);
    });
    const scope: Scope = { active: true };
    this.#scopes.push(scope);
    let value: T;
    try {
      value = await fn(this.#handleFor(scope));
      this.#check(scope);
    } catch (error) {
      this.#closeFrom(scope);
      await this.#rollbackTo(name);
      throw error;
    }
    this.#closeFrom(scope);
    try {
      await this.control(`RELEASE SAVEPOINT ${name}`);
    } catch (error) {
      // A statement inside the scope failed and its error was swallowed, so Postgres marked the
      // transaction failed: undo the scope and say so, rather than report success.
      await this.#rollbackTo(name);
      throw new StoreError(
        "not_committed",
        `A statement inside a savepoint on "${this.storeId}" failed and the savepoint could not be released; it was rolled back: ${messageOf(error)}`,
        { cause: error },
      );
    }
    return value;
  }

  async #rollbackTo(name: string): Promise<void> {
    if (!this.#open) return;
    try {
      await this.control(`ROLLBACK TO SAVEPOINT ${name}; RELEASE SAVEPOINT ${name}`);
    } catch (rollbackError) {
      this.#broken = rollbackError;
      this.end();
    }
  }

  /** Ends `scope` and any scope nested in it that its callback left running. */
  #closeFrom(scope: Scope): void {
    const index = this.#scopes.indexOf(scope);
    if (index < 0) return;
    for (const nested of this.#scopes.slice(index)) nested.active = false;
    this.#scopes.length = index;
  }

  #handleFor(scope: Scope): PostgresTransactionHandle {
    const handle: PostgresTransactionHandle = {
      query: <T>(sql: string, params?: readonly unknown[]) =>
        this.#statement<T>(scope, sql, params),
      savepoint: <T>(fn: (inner: PostgresTransactionHandle) => Promise<T>) =>
        this.#savepoint(scope, fn),
    };
    Object.defineProperty(handle, HANDLE_SCOPE, { value: { context: this, scope } });
    return Object.freeze(handle);
  }
}

/** The transaction and scope behind a handle, or `undefined` for anything else (a root handle). */
export function transactionScopeOf(
  handle: unknown,
): { readonly context: TransactionContext; readonly sql: ScopedSql } | undefined {
  if (typeof handle !== "object" || handle === null) return undefined;
  const found = (handle as Record<symbol, unknown>)[HANDLE_SCOPE] as
    | { context: TransactionContext; scope: Scope }
    | undefined;
  if (found === undefined) return undefined;
  return { context: found.context, sql: found.context.scoped(found.scope) };
}
