import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import type { AbortWatch } from "../../core/deadline.js";
import {
  classifyError,
  ErrorKind,
  isProvablyNotApplied,
  StoreError,
} from "../../core/error-kinds.js";
import { messageOf } from "../../core/message-of.js";
import { classifySqliteError, sqliteCodeOf } from "./classify-sqlite-error.js";
import {
  Connection,
  execute,
  refuseTransactionControl,
  type StatementMode,
  type SyncSql,
} from "./connection.js";
import type { SqliteTransactionHandle } from "./sqlite-handle.js";
import {
  TransactionContext,
  type TransactionOwner,
  transactionStorage,
} from "./transaction-context.js";
import { untilAborted } from "./until-aborted.js";
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
  readonly #busyTimeoutMs: number;
  readonly #reader: Connection;
  #writer: Connection;
  #closed = false;

  constructor(path: string, busyTimeoutMs: number, fileMustExist: boolean) {
    this.#busyTimeoutMs = busyTimeoutMs;
    if (path === ":memory:") {
      this.inMemory = true;
      this.path = path;
      this.id = `sqlite::memory:${++memoryDatabases}`;
      this.#writer = new Connection(path, busyTimeoutMs, false);
      this.#reader = this.#writer;
      this.gate = new WriteGate();
      return;
    }
    this.inMemory = false;
    this.#writer = new Connection(resolve(path), busyTimeoutMs, fileMustExist);
    try {
      this.path = realpathSync(resolve(path));
      this.#reader = new Connection(this.path, busyTimeoutMs, true);
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
    refuseTransactionControl(sql);
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

  /** Runs `work` in one transaction on the writer connection, holding the write gate throughout. */
  async transaction<T>(
    work: (tx: SqliteTransactionHandle) => Promise<T>,
    abort: AbortWatch,
  ): Promise<T> {
    this.assertOpen();
    if (this.#ownTransaction() !== undefined) {
      throw new StoreError(
        "not_committed",
        `A transaction on "${this.id}" was started inside another transaction on the same database and would wait for it forever; use tx.savepoint(...) for a nested scope.`,
      );
    }
    // Uncontended, the gate is taken without a promise; otherwise wait in line.
    const release = this.gate.tryAcquire(abort) ?? (await this.gate.acquire(abort));
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
        connection.exec("BEGIN IMMEDIATE");
      } catch (error) {
        throw new StoreError(
          provablyNotAppliedKind(classifySqliteError(error)),
          `Could not begin a transaction on "${this.id}": ${messageOf(error)}`,
          { cause: error },
        );
      }
      const context = new TransactionContext(this, connection, abort);
      let value: T;
      try {
        value = await untilAborted(
          transactionStorage.run(context, startWork, work, context.handle),
          abort,
          this.#describeTransaction,
        );
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
        context.end();
        this.#rollback(connection);
        throw new StoreError(
          provablyNotAppliedKind(classifyError(error, classifySqliteError)),
          `The transaction on "${this.id}" was rolled back: ${messageOf(error)}`,
          { cause: error },
        );
      }
      context.end();
      this.#commit(connection);
      return value;
    } finally {
      release();
    }
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

  readonly #describeTransaction = () => `The transaction on "${this.id}"`;

  #ownTransaction(): TransactionContext | undefined {
    const context = transactionStorage.getStore();
    return context?.open === true && context.owner.gate === this.gate ? context : undefined;
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

  #inTransaction<T>(connection: Connection, begin: string, fn: (sql: SyncSql) => T): T {
    connection.exec(begin);
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
      connection.exec("ROLLBACK");
    } catch {
      // Checked below: a connection still inside a transaction cannot be reused.
    }
    if (connection.inTransaction && connection === this.#writer && !this.inMemory) {
      connection.close();
      try {
        this.#writer = new Connection(this.path, this.#busyTimeoutMs, true);
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
      connection.exec("COMMIT");
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
 * Starts a transaction's work: its promise, or the rejection of a synchronous throw, as an async
 * wrapper would give without costing a promise of its own.
 */
function startWork<T>(
  work: (tx: SqliteTransactionHandle) => Promise<T>,
  handle: SqliteTransactionHandle,
): Promise<T> {
  try {
    return Promise.resolve(work(handle));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** The kind of a failure that certainly left nothing applied: its own kind if that says so. */
function provablyNotAppliedKind(kind: ErrorKind | undefined): ErrorKind {
  return kind !== undefined && isProvablyNotApplied(kind) ? kind : ErrorKind.NotCommitted;
}
