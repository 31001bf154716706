import { AsyncLocalStorage } from "node:async_hooks";
import type { Pool, PoolClient, QueryResult } from "pg";
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
  classifyPostgresError,
  isConnectionLoss,
  isSerializationFailure,
} from "./classify-postgres-error.js";
import type { PostgresTransactionHandle } from "./postgres-handle.js";
import { PostgresTransaction } from "./postgres-transaction.js";

/** How a store runs its transactions; resolved from `PostgresStoreOptions`. */
export interface TransactionSettings {
  readonly pool: Pool;
  readonly storeId: string;
  /** The `BEGIN` statement, with its isolation level. */
  readonly begin: string;
  /** How many times the whole transaction runs when it fails with 40001 or 40P01. */
  readonly attempts: number;
  readonly enforceDeadline: boolean;
}

// The largest value Postgres accepts for a timeout setting, in milliseconds.
const MAX_TIMEOUT_MS = 2_147_483_647;

// Kept on globalThis under a registered symbol so the ESM and CJS copies of lockstep share it.
const STORAGE_KEY = Symbol.for("lockstep.postgres.open-transaction");

/**
 * The id of the store whose transaction's work is running in the current async context. The root
 * handle refuses queries while it is its own store's: such a query needs a second pooled
 * connection, and once every connection is held by a transaction waiting for one, all of them hang.
 */
export const openTransaction: AsyncLocalStorage<string> = sharedGlobal(
  STORAGE_KEY,
  () => new AsyncLocalStorage<string>(),
);

/**
 * Runs `work` in one transaction on a connection of its own, retrying the whole transaction on a
 * serialization failure or deadlock while attempts remain. Every failure is a {@link StoreError}
 * whose kind says whether anything may have been committed.
 */
export async function runTransaction<T>(
  settings: TransactionSettings,
  work: (tx: PostgresTransactionHandle) => Promise<T>,
  scope: CallScope,
): Promise<T> {
  // The scope's abort, watched without creating its AbortSignal when the scope comes from
  // callWithDeadline.
  const abort = abortWatchOf(scope);
  for (let attempt = 1; ; attempt++) {
    try {
      return await runOnce(settings, work, scope, abort);
    } catch (error) {
      const retry =
        attempt < settings.attempts &&
        !abort.aborted &&
        StoreError.is(error) &&
        error.kind === ErrorKind.Transient &&
        isSerializationFailure(error);
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
 * The pooled connection one attempt holds, released exactly once: back to the pool, or destroyed
 * (pg-pool destroys a client released with an error; its server backend then rolls back).
 */
class Lease {
  readonly client: PoolClient;
  readonly #onError: (error: unknown) => void;
  #released = false;

  constructor(client: PoolClient, context: PostgresTransaction) {
    this.client = client;
    this.#onError = connectionFailed(context);
    client.on("error", this.#onError);
  }

  get released(): boolean {
    return this.#released;
  }

  release(destroy: boolean): void {
    if (this.#released) return;
    this.#released = true;
    this.client.off("error", this.#onError);
    this.client.release(destroy ? new Error("lockstep: connection discarded") : undefined);
  }
}

// Listeners come from factories rather than local arrow functions, so that transpilers that keep
// function names (tsx, esbuild's keepNames) do not rename fresh functions on every transaction.
function connectionFailed(context: PostgresTransaction): (error: unknown) => void {
  return (error) => context.connectionFailed(error);
}

/**
 * An abort ends the transaction at once: the handles refuse statements, and the connection is
 * destroyed, which rolls back whatever it was running (COMMIT is never sent on it).
 */
function endOnAbort(context: PostgresTransaction, lease: Lease): () => void {
  return () => {
    if (context.open) {
      context.end();
      lease.release(true);
    }
  };
}

async function runOnce<T>(
  settings: TransactionSettings,
  work: (tx: PostgresTransactionHandle) => Promise<T>,
  scope: CallScope,
  abort: AbortWatch,
): Promise<T> {
  const { storeId } = settings;
  if (abort.aborted) {
    throw new StoreError(
      "not_committed",
      `The transaction on "${storeId}" was aborted before it began.`,
      {
        cause: abort.reason,
      },
    );
  }
  const client = await connect(settings, abort);
  const context = new PostgresTransaction(storeId, client, abort);
  const lease = new Lease(client, context);
  const onAbort = endOnAbort(context, lease);
  abort.onAbort(onAbort);
  try {
    try {
      await untilAborted(context.control(beginStatement(settings, scope)), abort);
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
      value = await untilAborted(openTransaction.run(storeId, work, context.handle), abort);
      if (context.broken !== undefined) {
        throw new StoreError(
          "not_committed",
          `A savepoint on "${storeId}" could not be rolled back, so the whole transaction was.`,
          { cause: context.broken },
        );
      }
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
    let result: QueryResult | QueryResult[];
    try {
      result = await untilAborted(context.control("COMMIT"), abort, "unknown");
    } catch (error) {
      lease.release(true);
      throw new StoreError(
        commitFailureKind(error),
        `COMMIT failed on "${storeId}": ${messageOf(error)}`,
        {
          cause: error,
        },
      );
    }
    lease.release(false);
    const command = Array.isArray(result) ? result.at(-1)?.command : result.command;
    if (command !== "COMMIT") {
      throw new StoreError(
        "not_committed",
        `Postgres had already failed the transaction on "${storeId}" after an error inside it (its COMMIT answered ${command ?? "nothing"}); nothing of it was committed.`,
      );
    }
    return value;
  } finally {
    abort.offAbort(onAbort);
    if (!lease.released && !context.open) lease.release(true);
  }
}

async function connect(settings: TransactionSettings, abort: AbortWatch): Promise<PoolClient> {
  const connecting = settings.pool.connect();
  try {
    return await untilAborted(connecting, abort);
  } catch (error) {
    // A connection that arrives after the abort goes straight back to the pool, unused.
    connecting.then(
      (client) => {
        if (abort.aborted) client.release();
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

function beginStatement(settings: TransactionSettings, scope: CallScope): string {
  if (!settings.enforceDeadline) return settings.begin;
  const remaining = Math.ceil(scope.deadline - Date.now());
  // A deadline on a clock that is not the wall clock (a virtual clock in tests) gives no usable
  // timeout; the signal still ends the transaction.
  if (!(remaining > 0 && remaining <= MAX_TIMEOUT_MS)) return settings.begin;
  return `${settings.begin}; SET LOCAL statement_timeout = ${remaining}; SET LOCAL idle_in_transaction_session_timeout = ${remaining}`;
}

async function rollback(
  context: PostgresTransaction,
  destroy: boolean,
  lease: Lease,
): Promise<void> {
  if (destroy) {
    // A statement still running would hold ROLLBACK behind it; destroying the connection rolls back
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
  const kind = classifyError(error, classifyPostgresError);
  if (isProvablyNotApplied(kind)) return kind;
  // COMMIT was never sent, so Postgres rolls the transaction back; a lost connection may work again.
  return isConnectionLoss(error) ? ErrorKind.Transient : fallback;
}

/**
 * A failed COMMIT: Postgres refusing it outright (an integrity violation of a deferred constraint,
 * a serialization failure) rolled the transaction back; anything else — a lost connection, a killed
 * backend, a cancellation, an abort while waiting — may have happened after the commit landed.
 */
function commitFailureKind(error: unknown): ErrorKind {
  if (StoreError.is(error) && error.kind === ErrorKind.Transient) return ErrorKind.Transient;
  const kind = classifyError(error, classifyPostgresError);
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
  return raceAbortWatch(promise, abort, abortReason(abort, kind));
}

function abortReason(abort: AbortWatch, kind: ErrorKind): () => StoreError {
  return () =>
    kind === ErrorKind.NotCommitted
      ? abortedError(abort)
      : new StoreError(kind, "The transaction was aborted while its COMMIT was in flight.", {
          cause: abort.reason,
        });
}
