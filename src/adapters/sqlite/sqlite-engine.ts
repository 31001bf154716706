import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import type { AbortWatch } from "../../core/deadline.js";
import { classifyError, StoreError } from "../../core/error-kinds.js";
import { messageOf } from "../../core/message-of.js";
import { ErrorKind, isProvablyNotApplied } from "../../model/error-kind.js";
import { refuseTransactionControl } from "../sql/transaction-control.js";
import { classifySqliteError, sqliteCodeOf } from "./classify-sqlite-error.js";
import { Connection, execute, type StatementMode, type SyncSql } from "./connection.js";
import { sqliteDialect } from "./sqlite-dialect.js";
import type { SqliteDriver } from "./sqlite-driver.js";
import type { SqliteTransactionHandle } from "./sqlite-handle.js";
import {
  ownTransactionOn,
  SqliteTransaction,
  syncTransactions,
  type TransactionOwner,
  transactionStorage,
} from "./sqlite-transaction.js";
import { releaseGate, retainGate, WriteGate } from "./write-gate.js";

let memoryDatabases = 0;

/**
 * The connections of one opened SQLite database and the rules for using them: reads through the
 * root handle go to their own connection (WAL lets them run beside a writer), every write and every
 * transaction goes through the file's write gate to one writer connection. An in-memory database has
 * a single connection, so everything on it goes through the gate.
 */
export class SqliteEngine implements TransactionOwner {
  readonly id: string;
  readonly path: string;
  readonly inMemory: boolean;
  readonly gate: WriteGate;
  readonly driver: SqliteDriver;
  readonly #busyTimeoutMs: number;
  readonly #reader: Connection;
  #writer: Connection;
  #closed = false;

  constructor(driver: SqliteDriver, path: string, busyTimeoutMs: number, fileMustExist: boolean) {
    this.driver = driver;
    this.#busyTimeoutMs = busyTimeoutMs;
    if (path === ":memory:") {
      this.inMemory = true;
      this.path = path;
      this.id = `sqlite::memory:${++memoryDatabases}`;
      this.#writer = new Connection(driver, path, busyTimeoutMs, false);
      this.#reader = this.#writer;
      this.gate = new WriteGate();
      return;
    }
    this.inMemory = false;
    this.#writer = new Connection(driver, resolve(path), busyTimeoutMs, fileMustExist);
    try {
      this.path = realpathSync(resolve(path));
      this.#reader = new Connection(driver, this.path, busyTimeoutMs, true);
    } catch (error) {
      this.#writer.close();
      throw error;
    }
    this.id = `sqlite:${this.path}`;
    this.gate = retainGate(this.path);
  }

  get closed(): boolean {
    return this.#closed;
  }

  assertOpen(): void {
    if (this.#closed) {
      throw new StoreError(
        "not_committed",
        `The SQLite database "${this.id}" is closed; it cannot be used after close().`,
      );
    }
  }

  /** Runs one statement through the root handle. */
  async rootStatement(
    sql: string,
    params: readonly unknown[] | undefined,
    mode: StatementMode,
  ): Promise<unknown> {
    this.assertOpen();
    refuseTransactionControl(sqliteDialect, sql);
    if (!this.inMemory) {
      const statement = this.#reader.prepare(sql);
      if (statement.readonly) return execute(statement, params, mode);
    }
    this.#refuseInsideOwnTransaction("A statement through the root handle");
    return this.#gated(() => execute(this.#writer.prepare(sql), params, mode));
  }

  /** Runs `fn` in one read transaction: a consistent snapshot, without waiting for writers. */
  async readSync<T>(what: string, fn: (sql: SyncSql) => T, instead?: string): Promise<T> {
    this.assertOpen();
    if (!this.inMemory) return this.#inTransaction(this.#reader, "BEGIN", fn);
    this.#refuseInsideOwnTransaction(what, instead);
    return this.#gated(() => this.#inTransaction(this.#writer, "BEGIN", fn));
  }

  /** Runs `fn` in one write transaction, holding the write gate. */
  async writeSync<T>(what: string, fn: (sql: SyncSql) => T, instead?: string): Promise<T> {
    this.assertOpen();
    this.#refuseInsideOwnTransaction(what, instead);
    return this.#gated(() => this.#inTransaction(this.#writer, "BEGIN IMMEDIATE", fn));
  }

  /**
   * Runs `work` in one transaction on the writer connection, holding the write gate throughout.
   * If `abort` fires first, the transaction rolls back at once, without waiting for `work`.
   */
  transaction<T>(work: (tx: SqliteTransactionHandle) => Promise<T>, abort: AbortWatch): Promise<T> {
    let release: (() => void) | undefined;
    try {
      this.assertOpen();
      if (this.#ownTransaction() !== undefined) {
        throw new StoreError(
          "not_committed",
          `A transaction on "${this.id}" was started inside another transaction on the same database and would wait for it forever; use tx.savepoint(...) for a nested scope.`,
        );
      }
      // Uncontended, the gate is taken at once, without a promise; otherwise wait in line.
      release = this.gate.tryAcquire(abort);
    } catch (error) {
      return Promise.reject(error);
    }
    if (release !== undefined) return this.#begin(work, abort, release);
    return this.gate.acquire(abort).then((granted) => this.#begin(work, abort, granted));
  }

  /** With the gate held: begins, runs `work`, and commits or rolls back, releasing the gate. */
  #begin<T>(
    work: (tx: SqliteTransactionHandle) => Promise<T>,
    abort: AbortWatch,
    release: () => void,
  ): Promise<T> {
    let run: OpenTransaction<T>;
    try {
      run = this.#open(abort, release);
    } catch (error) {
      return Promise.reject(error);
    }
    const { context } = run;
    let working: T | PromiseLike<T>;
    try {
      working = transactionStorage.run(context, work, context.handle);
    } catch (error) {
      this.fail(run, error);
      return run.promise();
    }
    if (!isPromiseLike(working)) {
      // Work that returned its value at once (runAtomic's synchronous writes) commits at once.
      this.#finish(run, working);
    } else {
      working.then(
        (value) => this.#finish(run, value),
        (error: unknown) => this.fail(run, error),
      );
    }
    return run.promise();
  }

  /**
   * Runs synchronous `work` in one transaction and returns its value, or throws, as soon as the
   * transaction has committed or rolled back: at once when the write gate is free, through a promise
   * when it must wait for it. runAtomic's writes take this path (see `runThrough`).
   */
  transactionNow<T>(work: (tx: SqliteTransactionHandle) => T, abort: AbortWatch): T | Promise<T> {
    this.assertOpen();
    if (this.#ownTransaction() !== undefined) {
      throw new StoreError(
        "not_committed",
        `A transaction on "${this.id}" was started inside another transaction on the same database and would wait for it forever; use tx.savepoint(...) for a nested scope.`,
      );
    }
    const release = this.gate.tryAcquire(abort);
    if (release !== undefined) return this.#runNow(work, abort, release);
    return this.gate.acquire(abort).then((granted) => this.#runNow(work, abort, granted));
  }

  #runNow<T>(work: (tx: SqliteTransactionHandle) => T, abort: AbortWatch, release: () => void): T {
    const run = this.#open<T>(abort, release);
    const { context } = run;
    // No async context is needed: while `work` runs, nothing else does (see syncTransactions).
    context.outerSync = syncTransactions.current;
    syncTransactions.current = context;
    let value: T;
    try {
      value = work(context.handle);
    } catch (error) {
      this.fail(run, error);
      return run.take();
    } finally {
      syncTransactions.current = context.outerSync;
      context.outerSync = undefined;
    }
    this.#finish(run, value);
    return run.take();
  }

  /**
   * With the gate held: begins a transaction and watches `abort` for it. Releases the gate and
   * throws if the transaction cannot begin.
   */
  #open<T>(abort: AbortWatch, release: () => void): OpenTransaction<T> {
    let context: SqliteTransaction;
    try {
      this.assertOpen();
      if (abort.aborted) {
        throw new StoreError(
          "not_committed",
          `The transaction on "${this.id}" was aborted before it began.`,
          { cause: abort.reason },
        );
      }
      const connection = this.#writer;
      try {
        connection.control("BEGIN IMMEDIATE");
      } catch (error) {
        throw new StoreError(
          provablyNotAppliedKind(classifySqliteError(error)),
          `Could not begin a transaction on "${this.id}": ${messageOf(error)}`,
          { cause: error },
        );
      }
      context = new SqliteTransaction(this, connection, abort);
    } catch (error) {
      release();
      throw error;
    }
    const run = new OpenTransaction<T>(context, abort, release);
    run.onAbort = rollBackOnAbort(this, run);
    abort.onAbort(run.onAbort);
    return run;
  }

  /** `work` resolved: commits, unless the transaction must not. */
  #finish<T>(run: OpenTransaction<T>, value: T): void {
    if (run.ended) return;
    const { context, abort } = run;
    try {
      this.assertOpen();
      if (abort.aborted) {
        throw new StoreError(
          "not_committed",
          `The transaction on "${this.id}" was aborted before it committed.`,
          { cause: abort.reason },
        );
      }
      if (context.broken !== undefined) {
        throw new StoreError(
          "not_committed",
          `A savepoint on "${this.id}" could not be rolled back, so the whole transaction was.`,
          { cause: context.broken },
        );
      }
    } catch (error) {
      this.fail(run, error);
      return;
    }
    this.#end(run);
    try {
      context.end();
      this.#commit(context.connection);
    } catch (error) {
      run.release();
      run.settle(false, error);
      return;
    }
    run.release();
    run.settle(true, value);
  }

  /**
   * `work` rejected, a check before COMMIT failed, or the scope aborted: rolls back and rejects with
   * a not-applied {@link StoreError} caused by `error`.
   */
  fail<T>(run: OpenTransaction<T>, error: unknown): void {
    if (run.ended) return;
    this.#end(run);
    run.context.end();
    this.#rollback(run.context.connection);
    run.release();
    run.settle(
      false,
      new StoreError(
        provablyNotAppliedKind(classifyError(error, classifySqliteError)),
        `The transaction on "${this.id}" was rolled back: ${messageOf(error)}`,
        { cause: error },
      ),
    );
  }

  #end<T>(run: OpenTransaction<T>): void {
    run.ended = true;
    if (run.onAbort !== undefined) run.abort.offAbort(run.onAbort);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Closing a connection with an open transaction rolls it back; its work then finds every
    // statement refused.
    this.#writer.close();
    if (this.#reader !== this.#writer) this.#reader.close();
    if (!this.inMemory) releaseGate(this.path);
  }

  #ownTransaction(): SqliteTransaction | undefined {
    return ownTransactionOn(this.gate);
  }

  #refuseInsideOwnTransaction(
    what: string,
    instead = "use the transaction's handle instead",
  ): void {
    if (this.#ownTransaction() === undefined) return;
    throw new StoreError(
      "not_committed",
      this.inMemory
        ? `${what} was called inside an open transaction on the single-connection database "${this.id}", where it could only join that transaction or wait for it forever; ${instead}.`
        : `${what} was called inside an open transaction on "${this.id}" and would wait for that transaction forever; ${instead}.`,
    );
  }

  async #gated<T>(fn: () => T): Promise<T> {
    const release = await this.gate.acquire();
    try {
      this.assertOpen();
      return fn();
    } finally {
      release();
    }
  }

  #inTransaction<T>(
    connection: Connection,
    begin: "BEGIN" | "BEGIN IMMEDIATE",
    fn: (sql: SyncSql) => T,
  ): T {
    connection.control(begin);
    let value: T;
    try {
      value = fn(connection.sync());
    } catch (error) {
      this.#rollback(connection);
      throw error;
    }
    this.#commit(connection);
    return value;
  }

  #rollback(connection: Connection): void {
    if (!connection.inTransaction) return;
    try {
      connection.control("ROLLBACK");
    } catch {
      // Checked below: a connection still inside a transaction cannot be reused.
    }
    if (connection.inTransaction && connection === this.#writer && !this.inMemory) {
      connection.close();
      try {
        this.#writer = new Connection(this.driver, this.path, this.#busyTimeoutMs, true);
      } catch {
        // The closed writer makes the next write fail loudly rather than run in a stale transaction.
      }
    }
  }

  #commit(connection: Connection): void {
    if (!connection.inTransaction) {
      throw new StoreError(
        "not_committed",
        `SQLite had already rolled back the transaction on "${this.id}" after an error inside it; nothing of it was committed.`,
      );
    }
    try {
      connection.control("COMMIT");
    } catch (error) {
      let kind: ErrorKind;
      if (connection.inTransaction) {
        // SQLite kept the transaction open, so nothing is committed yet; undo it rather than retry.
        this.#rollback(connection);
        kind = provablyNotAppliedKind(classifySqliteError(error));
      } else {
        const code = sqliteCodeOf(error) ?? "";
        kind =
          code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")
            ? ErrorKind.Transient
            : code.startsWith("SQLITE_CONSTRAINT")
              ? ErrorKind.NotCommitted
              : ErrorKind.Unknown;
      }
      throw new StoreError(kind, `COMMIT failed on "${this.id}": ${messageOf(error)}`, {
        cause: error,
      });
    }
  }
}

/**
 * One transaction between BEGIN and its COMMIT or ROLLBACK. It ends exactly once; its outcome is
 * kept until someone asks for {@link OpenTransaction.promise}, so a transaction that ends while it
 * starts (synchronous work, a synchronous abort) needs no promise executor.
 */
class OpenTransaction<T> {
  readonly context: SqliteTransaction;
  readonly abort: AbortWatch;
  readonly release: () => void;
  onAbort: (() => void) | undefined;
  ended = false;
  #outcome: { readonly ok: boolean; readonly value: unknown } | undefined;
  #resolve: ((value: T) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;

  constructor(context: SqliteTransaction, abort: AbortWatch, release: () => void) {
    this.context = context;
    this.abort = abort;
    this.release = release;
  }

  settle(ok: boolean, value: unknown): void {
    if (this.#resolve !== undefined && this.#reject !== undefined) {
      if (ok) this.#resolve(value as T);
      else this.#reject(value);
    } else {
      this.#outcome = { ok, value };
    }
  }

  /** The outcome of a transaction that has ended: its value, or its error thrown. */
  take(): T {
    const outcome = this.#outcome;
    if (outcome === undefined) throw new Error("lockstep: a synchronous transaction did not end.");
    if (!outcome.ok) throw outcome.value;
    return outcome.value as T;
  }

  /** The transaction's promise; asked for once. */
  promise(): Promise<T> {
    const outcome = this.#outcome;
    if (outcome !== undefined) {
      return outcome.ok ? Promise.resolve(outcome.value as T) : Promise.reject(outcome.value);
    }
    return new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as PromiseLike<T>).then === "function"
  );
}

// A factory rather than a local arrow function, so that transpilers that keep function names (tsx,
// esbuild's keepNames) do not rename a fresh function on every transaction.
function rollBackOnAbort<T>(engine: SqliteEngine, run: OpenTransaction<T>): () => void {
  return () =>
    engine.fail(
      run,
      new StoreError(
        "not_committed",
        `The transaction on "${engine.id}" was aborted and rolled back; nothing of it was committed.`,
        { cause: run.abort.reason },
      ),
    );
}

/** The kind of a failure that certainly left nothing applied: its own kind if that says so. */
function provablyNotAppliedKind(kind: ErrorKind | undefined): ErrorKind {
  return kind !== undefined && isProvablyNotApplied(kind) ? kind : ErrorKind.NotCommitted;
}
