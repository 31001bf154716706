import type { AsyncLocalStorage } from "node:async_hooks";
import {
  type AbortWatch,
  abortWatchOf,
  type CallScope,
  raceAbortWatch,
} from "../../core/deadline.js";
import { classifyError, type ErrorClassifier, StoreError } from "../../core/error-kinds.js";
import { messageOf } from "../../core/message-of.js";
import { ErrorKind, isProvablyNotApplied } from "../../model/error-kind.js";
import type { ErrorEmitter, PooledConnections } from "./root-query.js";

/** What every pooled transaction's settings carry, whatever its dialect. */
export interface PooledTransactionSettings<Pool = unknown> {
  readonly pool: Pool;
  readonly storeId: string;
  /** How many times the whole transaction runs when it fails with a retryable conflict. */
  readonly attempts: number;
}

/** What the runner needs of one open transaction: the SQL core's {@link QueuedTransaction} gives it. */
export interface PooledTransactionContext<Handle, Raw> {
  readonly handle: Handle;
  readonly open: boolean;
  readonly inFlight: number;
  readonly lost: unknown;
  readonly broken: unknown;
  /** Set when the server rolled the whole transaction back on its own; `undefined` where it never does. */
  readonly rolledBack?: unknown;
  end(): void;
  control(sql: string): Promise<Raw>;
  connectionFailed(error: unknown): void;
}

/**
 * What differs between dialects that run a transaction on a connection checked out of the user's
 * pool: how a connection is checked out, given back and closed for certain (its
 * {@link PooledConnections}), how a transaction begins, and how the driver's errors are classified.
 * One constant object per dialect.
 */
export interface PooledTransactionDriver<
  Settings extends PooledTransactionSettings,
  Connection extends ErrorEmitter,
  Handle,
  Raw,
> extends PooledConnections<Settings["pool"], Connection> {
  /** The store id of the transaction whose work runs in the current async context. */
  readonly openTransaction: AsyncLocalStorage<string>;
  /** The transaction context over a connection. */
  open(
    storeId: string,
    connection: Connection,
    abort: AbortWatch,
  ): PooledTransactionContext<Handle, Raw>;
  /** The statements that begin a transaction, sent in order. */
  begin(settings: Settings, scope: CallScope): readonly string[];
  /**
   * Why a COMMIT that answered `result` committed nothing, as a full sentence; `undefined` when it
   * committed. Absent where a COMMIT that answers has always committed.
   */
  commitRefused?(result: Raw, storeId: string): string | undefined;
  /** The dialect's driver error codes. */
  readonly classify: ErrorClassifier;
  /** Whether `error` is the loss of the connection. */
  isConnectionLoss(error: unknown): boolean;
  /** Whether a failed transaction may run again: a serialization failure or a deadlock. */
  isRetryable(error: unknown): boolean;
}

/**
 * Runs `work` in one transaction on a connection of its own, retrying the whole transaction on a
 * conflict the driver calls retryable while attempts remain. Every failure is a {@link StoreError}
 * whose kind says whether anything may have been committed.
 */
export async function runPooledTransaction<
  Settings extends PooledTransactionSettings,
  Connection extends ErrorEmitter,
  Handle,
  Raw,
  T,
>(
  driver: PooledTransactionDriver<Settings, Connection, Handle, Raw>,
  settings: Settings,
  work: (tx: Handle) => Promise<T>,
  scope: CallScope,
): Promise<T> {
  // The scope's abort, watched without creating its AbortSignal when the scope comes from
  // callWithDeadline.
  const abort = abortWatchOf(scope);
  for (let attempt = 1; ; attempt++) {
    try {
      return await runOnce(driver, settings, work, scope, abort);
    } catch (error) {
      const retry =
        attempt < settings.attempts &&
        !abort.aborted &&
        StoreError.is(error) &&
        error.kind === ErrorKind.Transient &&
        driver.isRetryable(error);
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

type AnyDriver<
  Settings extends PooledTransactionSettings,
  Connection extends ErrorEmitter,
> = PooledTransactionDriver<Settings, Connection, unknown, unknown>;

/**
 * The pooled connection one attempt holds, released exactly once: back to the pool, or destroyed.
 * A destroyed connection's server side may still be running a statement, or a COMMIT: the driver
 * ends it for certain, and the attempt counts as over only once it is gone.
 */
class Lease<Settings extends PooledTransactionSettings, Connection extends ErrorEmitter> {
  readonly #driver: AnyDriver<Settings, Connection>;
  readonly #settings: Settings;
  readonly #connection: Connection;
  readonly #onError: (error: unknown) => void;
  #released = false;
  #closing: Promise<unknown> | undefined;

  constructor(
    driver: AnyDriver<Settings, Connection>,
    settings: Settings,
    connection: Connection,
    context: PooledTransactionContext<unknown, unknown>,
  ) {
    this.#driver = driver;
    this.#settings = settings;
    this.#connection = connection;
    this.#onError = connectionFailed(context);
    connection.on("error", this.#onError);
  }

  get released(): boolean {
    return this.#released;
  }

  release(destroy: boolean): void {
    if (this.#released) return;
    this.#released = true;
    this.#connection.off("error", this.#onError);
    if (destroy) this.#closing = this.#driver.destroy(this.#settings.pool, this.#connection);
    else this.#driver.release(this.#connection);
  }

  /** Resolves once a destroyed connection's server side is gone (at once if none was destroyed). */
  async closed(): Promise<void> {
    await this.#closing;
  }
}

// Listeners come from factories rather than local arrow functions, so that transpilers that keep
// function names (tsx, esbuild's keepNames) do not rename fresh functions on every transaction.
function connectionFailed(
  context: PooledTransactionContext<unknown, unknown>,
): (error: unknown) => void {
  return (error) => context.connectionFailed(error);
}

/**
 * An abort ends the transaction at once: the handles refuse statements, and the connection is
 * destroyed, which rolls back whatever it was running (COMMIT is never sent on it).
 */
function endOnAbort(
  context: PooledTransactionContext<unknown, unknown>,
  lease: Lease<PooledTransactionSettings, ErrorEmitter>,
): () => void {
  return () => {
    if (context.open) {
      context.end();
      lease.release(true);
    }
  };
}

async function runOnce<
  Settings extends PooledTransactionSettings,
  Connection extends ErrorEmitter,
  Handle,
  Raw,
  T,
>(
  driver: PooledTransactionDriver<Settings, Connection, Handle, Raw>,
  settings: Settings,
  work: (tx: Handle) => Promise<T>,
  scope: CallScope,
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
  const connection = await connect(driver, settings, abort);
  const context = driver.open(storeId, connection, abort);
  const lease = new Lease(driver as AnyDriver<Settings, Connection>, settings, connection, context);
  const onAbort = endOnAbort(context, lease);
  abort.onAbort(onAbort);
  try {
    return await runOn(driver, settings, work, scope, abort, context, lease);
  } catch (error) {
    // The call settles only once nothing of it can land any more: see the store's fence.
    await lease.closed();
    throw error;
  } finally {
    abort.offAbort(onAbort);
    if (!lease.released && !context.open) lease.release(true);
  }
}

async function runOn<
  Settings extends PooledTransactionSettings,
  Connection extends ErrorEmitter,
  Handle,
  Raw,
  T,
>(
  driver: PooledTransactionDriver<Settings, Connection, Handle, Raw>,
  settings: Settings,
  work: (tx: Handle) => Promise<T>,
  scope: CallScope,
  abort: AbortWatch,
  context: PooledTransactionContext<Handle, Raw>,
  lease: Lease<Settings, Connection>,
): Promise<T> {
  const { storeId } = settings;
  try {
    for (const statement of driver.begin(settings, scope)) {
      await untilAborted(context.control(statement), abort);
    }
  } catch (error) {
    context.end();
    lease.release(true);
    throw new StoreError(
      notAppliedKind(driver, error),
      `Could not begin a transaction on "${storeId}": ${messageOf(error)}`,
      { cause: error },
    );
  }
  let value: T;
  try {
    value = await untilAborted(driver.openTransaction.run(storeId, work, context.handle), abort);
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
      notAppliedKind(driver, error),
      `The transaction on "${storeId}" was rolled back: ${messageOf(error)}`,
      { cause: error },
    );
  }
  context.end();
  let result: Raw;
  try {
    result = await untilAborted(context.control("COMMIT"), abort, ErrorKind.Unknown);
  } catch (error) {
    lease.release(true);
    throw new StoreError(
      commitFailureKind(driver, error),
      `COMMIT failed on "${storeId}": ${messageOf(error)}`,
      { cause: error },
    );
  }
  lease.release(false);
  const refused = driver.commitRefused?.(result, storeId);
  if (refused !== undefined) throw new StoreError("not_committed", refused);
  return value;
}

async function connect<Settings extends PooledTransactionSettings, Connection extends ErrorEmitter>(
  driver: PooledTransactionDriver<Settings, Connection, unknown, unknown>,
  settings: Settings,
  abort: AbortWatch,
): Promise<Connection> {
  const connecting = driver.connect(settings.pool);
  try {
    return await untilAborted(connecting, abort);
  } catch (error) {
    // A connection that arrives after the abort goes straight back to the pool, unused.
    connecting.then(
      (connection) => {
        if (abort.aborted) driver.release(connection);
      },
      () => {},
    );
    throw new StoreError(
      notAppliedKind(driver, error, ErrorKind.Transient),
      `Could not obtain a connection for a transaction on "${settings.storeId}": ${messageOf(error)}`,
      { cause: error },
    );
  }
}

async function rollback(
  context: PooledTransactionContext<unknown, unknown>,
  destroy: boolean,
  lease: Lease<PooledTransactionSettings, ErrorEmitter>,
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

type Classifying = Pick<
  PooledTransactionDriver<PooledTransactionSettings, ErrorEmitter, unknown, unknown>,
  "classify" | "isConnectionLoss"
>;

/** The kind of a failure that certainly left nothing applied. */
function notAppliedKind(
  driver: Classifying,
  error: unknown,
  fallback: ErrorKind = ErrorKind.NotCommitted,
): ErrorKind {
  const kind = classifyError(error, driver.classify);
  if (isProvablyNotApplied(kind)) return kind;
  // COMMIT was never sent, so the server rolls the transaction back; a lost connection may work
  // again.
  return driver.isConnectionLoss(error) ? ErrorKind.Transient : fallback;
}

/**
 * A failed COMMIT: the server refusing it outright (an integrity violation of a deferred constraint,
 * a serialization failure, a deadlock found at commit) rolled the transaction back; anything else —
 * a lost connection, a killed backend, a cancellation, an abort while waiting — may have happened
 * after the commit landed.
 */
function commitFailureKind(driver: Classifying, error: unknown): ErrorKind {
  if (StoreError.is(error) && error.kind === ErrorKind.Transient) return ErrorKind.Transient;
  const kind = classifyError(error, driver.classify);
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
