import { AsyncLocalStorage } from "node:async_hooks";
import type { Pool, PoolClient, QueryResult } from "pg";
import type { CallScope } from "../../core/deadline.js";
import {
  classifyError,
  ErrorKind,
  isProvablyNotApplied,
  StoreError,
} from "../../core/error-kinds.js";
import { raceAbort } from "../../core/race-abort.js";
import {
  classifyPostgresError,
  isConnectionLoss,
  isSerializationFailure,
} from "./classify-postgres-error.js";
import type { PostgresTransactionHandle } from "./postgres-handle.js";
import { messageOf } from "./statements.js";
import { TransactionContext } from "./transaction-context.js";

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

/**
 * Runs `work` in one transaction on a connection of its own, retrying the whole transaction on a
 * serialization failure or deadlock while attempts remain. Every failure is a {@link StoreError}
 * whose kind says whether anything may have been committed.
 */
// Kept on globalThis under a registered symbol so the ESM and CJS copies of lockstep share it.
const STORAGE_KEY = Symbol.for("lockstep.postgres.open-transaction");

/**
 * The id of the store whose transaction's work is running in the current async context. The root
 * handle refuses queries while it is its own store's: such a query needs a second pooled
 * connection, and once every connection is held by a transaction waiting for one, all of them hang.
 */
export const openTransaction: AsyncLocalStorage<string> = (() => {
  const holder = globalThis as Record<symbol, unknown>;
  const existing = holder[STORAGE_KEY] as AsyncLocalStorage<string> | undefined;
  if (existing !== undefined) return existing;
  const created = new AsyncLocalStorage<string>();
  holder[STORAGE_KEY] = created;
  return created;
})();

export async function runTransaction<T>(
  settings: TransactionSettings,
  work: (tx: PostgresTransactionHandle) => Promise<T>,
  scope: CallScope,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runOnce(settings, work, scope);
    } catch (error) {
      const retry =
        attempt < settings.attempts &&
        !scope.signal.aborted &&
        StoreError.is(error) &&
        error.kind === ErrorKind.Transient &&
        isSerializationFailure(error);
      if (!retry) throw error;
      await pause(attempt, scope.signal);
    }
  }
}

/** A short, jittered, growing pause between attempts, so colliding transactions stop colliding. */
function pause(attempt: number, signal: AbortSignal): Promise<void> {
  const ms = Math.random() * Math.min(100, 5 * 2 ** attempt);
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

async function runOnce<T>(
  settings: TransactionSettings,
  work: (tx: PostgresTransactionHandle) => Promise<T>,
  scope: CallScope,
): Promise<T> {
  const { storeId } = settings;
  const { signal } = scope;
  if (signal.aborted) {
    throw new StoreError(
      "not_committed",
      `The transaction on "${storeId}" was aborted before it began.`,
      {
        cause: signal.reason,
      },
    );
  }
  const client = await connect(settings, signal);
  const context = new TransactionContext(storeId, client, signal);
  const onError = (error: unknown) => context.connectionFailed(error);
  client.on("error", onError);
  let released = false;
  const release = (destroy: boolean) => {
    if (released) return;
    released = true;
    client.off("error", onError);
    // pg-pool destroys a client released with an error; its server backend then rolls back.
    client.release(destroy ? new Error("lockstep: connection discarded") : undefined);
  };
  // An abort ends the transaction at once: the handles refuse statements, and the connection is
  // destroyed, which rolls back whatever it was running (COMMIT is never sent on it).
  const onAbort = () => {
    if (context.open) {
      context.end();
      release(true);
    }
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    try {
      await untilAborted(context.control(beginStatement(settings, scope)), signal);
    } catch (error) {
      context.end();
      release(true);
      throw new StoreError(
        notAppliedKind(error),
        `Could not begin a transaction on "${storeId}": ${messageOf(error)}`,
        { cause: error },
      );
    }
    let value: T;
    try {
      value = await untilAborted(
        openTransaction.run(storeId, () => work(context.handle)),
        signal,
      );
      if (context.broken !== undefined) {
        throw new StoreError(
          "not_committed",
          `A savepoint on "${storeId}" could not be rolled back, so the whole transaction was.`,
          { cause: context.broken },
        );
      }
      if (signal.aborted) throw abortedError(signal);
    } catch (error) {
      const inFlight = context.inFlight > 0;
      context.end();
      await rollback(context, inFlight || signal.aborted || context.lost !== undefined, release);
      throw new StoreError(
        notAppliedKind(error),
        `The transaction on "${storeId}" was rolled back: ${messageOf(error)}`,
        { cause: error },
      );
    }
    context.end();
    let result: QueryResult | QueryResult[];
    try {
      result = await untilAborted(context.control("COMMIT"), signal, "unknown");
    } catch (error) {
      release(true);
      throw new StoreError(
        commitFailureKind(error),
        `COMMIT failed on "${storeId}": ${messageOf(error)}`,
        {
          cause: error,
        },
      );
    }
    release(false);
    const command = Array.isArray(result) ? result.at(-1)?.command : result.command;
    if (command !== "COMMIT") {
      throw new StoreError(
        "not_committed",
        `Postgres had already failed the transaction on "${storeId}" after an error inside it (its COMMIT answered ${command ?? "nothing"}); nothing of it was committed.`,
      );
    }
    return value;
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (!released && !context.open) release(true);
  }
}

async function connect(settings: TransactionSettings, signal: AbortSignal): Promise<PoolClient> {
  const connecting = settings.pool.connect();
  try {
    return await untilAborted(connecting, signal);
  } catch (error) {
    // A connection that arrives after the abort goes straight back to the pool, unused.
    connecting.then(
      (client) => {
        if (signal.aborted) client.release();
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
  context: TransactionContext,
  destroy: boolean,
  release: (destroy: boolean) => void,
): Promise<void> {
  if (destroy) {
    // A statement still running would hold ROLLBACK behind it; destroying the connection rolls back
    // at once, and the pool opens a fresh one.
    release(true);
    return;
  }
  try {
    await context.control("ROLLBACK");
    release(false);
  } catch {
    release(true);
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

function abortedError(signal: AbortSignal): StoreError {
  return new StoreError("not_committed", "The transaction was aborted before it committed.", {
    cause: signal.reason,
  });
}

/**
 * Settles with `promise`, or rejects as soon as `signal` aborts: with a `not_committed` error before
 * COMMIT is sent, and an `unknown` one while it is in flight.
 */
function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  kind: ErrorKind = ErrorKind.NotCommitted,
): Promise<T> {
  return raceAbort(promise, signal, () =>
    kind === ErrorKind.NotCommitted
      ? abortedError(signal)
      : new StoreError(kind, "The transaction was aborted while its COMMIT was in flight.", {
          cause: signal.reason,
        }),
  );
}
