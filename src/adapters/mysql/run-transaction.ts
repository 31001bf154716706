import { AsyncLocalStorage } from "node:async_hooks";
import type { Pool, PoolConnection } from "mysql2/promise";
import {
  type AbortWatch,
  abortWatchOf,
  type CallScope,
  raceAbortWatch,
} from "../../core/deadline.js";
import { classifyError, StoreError } from "../../core/error-kinds.js";
import { messageOf } from "../../core/message-of.js";
import { ErrorKind, isProvablyNotApplied } from "../../model/error-kind.js";
import { sharedGlobal } from "../sql/shared-global.js";
import {
  classifyMysqlError,
  isMysqlConnectionLoss,
  isMysqlDeadlock,
} from "./classify-mysql-error.js";
import { killThenDestroy } from "./close-connection.js";
import type { MysqlTransactionHandle } from "./mysql-handle.js";
import { MysqlTransaction } from "./mysql-transaction.js";

/** How a store runs its transactions; resolved from `MysqlStoreOptions`. */
export interface TransactionSettings {
  readonly pool: Pool;
  readonly storeId: string;
  /** The `SET TRANSACTION ISOLATION LEVEL …` statement sent before `START TRANSACTION`, if any. */
  readonly isolation: string | undefined;
  /** How many times the whole transaction runs when it fails with a deadlock (1213). */
  readonly attempts: number;
}

// Kept on globalThis under a registered symbol so the ESM and CJS copies of lockstep share it.
const STORAGE_KEY = Symbol.for("lockstep.mysql.open-transaction");

/**
 * The id of the store whose transaction's work is running in the current async context. The root
 * handle refuses queries while it is its own store's: such a query needs a second pooled
 * connection, and once every connection is held by a transaction waiting for one, all of them hang.
 */
export const openMysqlTransaction: AsyncLocalStorage<string> = sharedGlobal(
  STORAGE_KEY,
  () => new AsyncLocalStorage<string>(),
);

/**
 * Runs `work` in one transaction on a connection of its own, retrying the whole transaction on a
 * deadlock while attempts remain. Every failure is a {@link StoreError} whose kind says whether
 * anything may have been committed.
 */
export async function runMysqlTransaction<T>(
  settings: TransactionSettings,
  work: (tx: MysqlTransactionHandle) => Promise<T>,
  scope: CallScope,
): Promise<T> {
  const abort = abortWatchOf(scope);
  for (let attempt = 1; ; attempt++) {
    try {
      return await runOnce(settings, work, abort);
    } catch (error) {
      const retry =
        attempt < settings.attempts &&
        !abort.aborted &&
        StoreError.is(error) &&
        error.kind === ErrorKind.Transient &&
        isMysqlDeadlock(error);
      if (!retry) throw error;
      await pause(attempt, abort);
    }
  }
}

/** A short, jittered, growing pause between attempts, so colliding transactions stop colliding. */
function pause(attempt: number, abort: AbortWatch): Promise<void> {
  const ms = Math.random() * Math.min(100, 5 * 2 ** attempt);
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      abort.offAbort(done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    abort.onAbort(done);
  });
}

/**
 * The pooled connection one attempt holds, released exactly once: back to the pool, or destroyed.
 * A destroyed connection's server thread may still be running a statement, or a COMMIT: it is
 * killed from another connection, and the attempt counts as over only once the thread is gone.
 */
class Lease {
  readonly connection: PoolConnection;
  readonly #pool: Pool;
  readonly #onError: (error: unknown) => void;
  #released = false;
  #closing: Promise<boolean> | undefined;

  constructor(pool: Pool, connection: PoolConnection, context: MysqlTransaction) {
    this.#pool = pool;
    this.connection = connection;
    this.#onError = connectionFailed(context);
    connection.on("error", this.#onError);
  }

  get released(): boolean {
    return this.#released;
  }

  release(destroy: boolean): void {
    if (this.#released) return;
    this.#released = true;
    this.connection.off("error", this.#onError);
    if (destroy) {
      // Killed first, destroyed once the server thread is gone: mysql2 settles a statement still in
      // flight only when the server closes the connection, never when it is destroyed locally.
      this.#closing = killThenDestroy(this.#pool, this.connection);
    } else {
      this.connection.release();
    }
  }

  /** Resolves once a destroyed connection's server thread is gone (at once if none was destroyed). */
  async closed(): Promise<void> {
    await this.#closing;
  }
}

function connectionFailed(context: MysqlTransaction): (error: unknown) => void {
  return (error) => context.connectionFailed(error);
}

/**
 * An abort ends the transaction at once: the handles refuse statements, and the connection is
 * destroyed and its server thread killed, which rolls back whatever it was running.
 */
function endOnAbort(context: MysqlTransaction, lease: Lease): () => void {
  return () => {
    if (context.open) {
      context.end();
      lease.release(true);
    }
  };
}

async function runOnce<T>(
  settings: TransactionSettings,
  work: (tx: MysqlTransactionHandle) => Promise<T>,
  abort: AbortWatch,
): Promise<T> {
  const { storeId } = settings;
  if (abort.aborted) {
    throw new StoreError(
      "not_committed",
      `The transaction on "${storeId}" was aborted before it began.`,
      { cause: abort.reason },
    );
  }
  const connection = await connect(settings, abort);
  const context = new MysqlTransaction(storeId, connection, abort);
  const lease = new Lease(settings.pool, connection, context);
  const onAbort = endOnAbort(context, lease);
  abort.onAbort(onAbort);
  try {
    return await runOn(settings, work, abort, context, lease);
  } catch (error) {
    // The call settles only once nothing of it can land any more: see the store's fence.
    await lease.closed();
    throw error;
  } finally {
    abort.offAbort(onAbort);
    if (!lease.released && !context.open) lease.release(true);
  }
}

async function runOn<T>(
  settings: TransactionSettings,
  work: (tx: MysqlTransactionHandle) => Promise<T>,
  abort: AbortWatch,
  context: MysqlTransaction,
  lease: Lease,
): Promise<T> {
  const { storeId } = settings;
  try {
    if (settings.isolation !== undefined) {
      await untilAborted(context.control(settings.isolation), abort);
    }
    await untilAborted(context.control("START TRANSACTION"), abort);
  } catch (error) {
    context.end();
    lease.release(true);
    throw new StoreError(
      notAppliedKind(error),
      `Could not begin a transaction on "${storeId}": ${messageOf(error)}`,
      { cause: error },
    );
  }
  let value: T;
  try {
    value = await untilAborted(openMysqlTransaction.run(storeId, work, context.handle), abort);
    if (context.broken !== undefined) {
      throw new StoreError(
        "not_committed",
        `A savepoint on "${storeId}" could not be rolled back, so the whole transaction was.`,
        { cause: context.broken },
      );
    }
    if (context.rolledBack !== undefined) throw context.rolledBack;
    if (abort.aborted) throw abortedError(abort);
  } catch (error) {
    const inFlight = context.inFlight > 0;
    context.end();
    await rollback(context, inFlight || abort.aborted || context.lost !== undefined, lease);
    throw new StoreError(
      notAppliedKind(error),
      `The transaction on "${storeId}" was rolled back: ${messageOf(error)}`,
      { cause: error },
    );
  }
  context.end();
  try {
    await untilAborted(context.control("COMMIT"), abort, ErrorKind.Unknown);
  } catch (error) {
    lease.release(true);
    throw new StoreError(
      commitFailureKind(error),
      `COMMIT failed on "${storeId}": ${messageOf(error)}`,
      { cause: error },
    );
  }
  lease.release(false);
  return value;
}

async function connect(settings: TransactionSettings, abort: AbortWatch): Promise<PoolConnection> {
  const connecting = settings.pool.getConnection();
  try {
    return await untilAborted(connecting, abort);
  } catch (error) {
    // A connection that arrives after the abort goes straight back to the pool, unused.
    connecting.then(
      (connection) => {
        if (abort.aborted) connection.release();
      },
      () => {},
    );
    throw new StoreError(
      notAppliedKind(error, ErrorKind.Transient),
      `Could not obtain a connection for a transaction on "${settings.storeId}": ${messageOf(error)}`,
      { cause: error },
    );
  }
}

async function rollback(context: MysqlTransaction, destroy: boolean, lease: Lease): Promise<void> {
  if (destroy) {
    // A statement still running would hold ROLLBACK behind it; killing the connection rolls back
    // at once, and the pool opens a fresh one.
    lease.release(true);
    return;
  }
  try {
    await context.control("ROLLBACK");
    lease.release(false);
  } catch {
    lease.release(true);
  }
}

/** The kind of a failure that certainly left nothing applied. */
function notAppliedKind(error: unknown, fallback: ErrorKind = ErrorKind.NotCommitted): ErrorKind {
  const kind = classifyError(error, classifyMysqlError);
  if (isProvablyNotApplied(kind)) return kind;
  // COMMIT was never sent, so InnoDB rolls the transaction back; a lost connection may work again.
  return isMysqlConnectionLoss(error) ? ErrorKind.Transient : fallback;
}

/**
 * A failed COMMIT: the server refusing it outright (a deadlock found at commit) rolled the
 * transaction back; anything else — a lost connection, a killed thread, an abort while it was in
 * flight — may have happened after the commit landed.
 */
function commitFailureKind(error: unknown): ErrorKind {
  if (StoreError.is(error) && error.kind === ErrorKind.Transient) return ErrorKind.Transient;
  const kind = classifyError(error, classifyMysqlError);
  return isProvablyNotApplied(kind) ? kind : ErrorKind.Unknown;
}

function abortedError(abort: AbortWatch): StoreError {
  return new StoreError("not_committed", "The transaction was aborted before it committed.", {
    cause: abort.reason,
  });
}

/**
 * Settles with `promise`, or rejects as soon as `abort` fires: with a `not_committed` error before
 * COMMIT is sent, and an `unknown` one while it is in flight.
 */
function untilAborted<T>(
  promise: Promise<T>,
  abort: AbortWatch,
  kind: ErrorKind = ErrorKind.NotCommitted,
): Promise<T> {
  return raceAbortWatch(promise, abort, () =>
    kind === ErrorKind.NotCommitted
      ? abortedError(abort)
      : new StoreError(kind, "The transaction was aborted while its COMMIT was in flight.", {
          cause: abort.reason,
        }),
  );
}
