import type { AsyncLocalStorage } from "node:async_hooks";
import { type AbortWatch, abortWatchOf, type CallScope } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import type { SqlDialect } from "./sql-dialect.js";
import { refuseTransactionControl } from "./transaction-control.js";

/** A pooled connection that reports its failures as `error` events (pg's and mysql2's both do). */
export interface ErrorEmitter {
  on(event: "error", listener: (error: Error) => void): unknown;
  off(event: "error", listener: (error: Error) => void): unknown;
}

/**
 * How a network SQL driver's pool hands out connections and ends them, for root-handle queries and
 * transactions alike. One constant object per dialect.
 */
export interface PooledConnections<Pool, Connection extends ErrorEmitter> {
  /** Checks a connection out of the pool. */
  connect(pool: Pool): Promise<Connection>;
  /** Gives a connection back to the pool for reuse. */
  release(connection: Connection): void;
  /**
   * Discards a connection and ends its server side for certain; what it returns settles once the
   * server side is gone (`true`), or could not be confirmed gone (`false`).
   */
  destroy(pool: Pool, connection: Connection): Promise<boolean> | undefined;
  /** What {@link PooledConnections.destroy} ends, in messages: `"backend"`, `"connection"`. */
  readonly serverSide: string;
  /** What it does to it, in messages: `"terminated"`, `"killed"`. */
  readonly ended: string;
  /**
   * Whether the driver emits `error` on a checked-out connection as well as rejecting the query
   * (pg does): a root query then listens for it, since unheard, that event would end the process.
   */
  readonly emitsQueryErrors?: boolean;
}

/**
 * Refuses what a root handle must never send: transaction control (a transaction is the store's
 * to open), and any query from inside one of this store's own transactions (`openTransaction`),
 * which would need a second pooled connection and hangs once every connection is held by such a
 * transaction.
 */
export function refuseRootQuery(
  dialect: SqlDialect,
  openTransaction: AsyncLocalStorage<string>,
  id: string,
  sql: string,
): void {
  refuseTransactionControl(dialect, sql);
  if (openTransaction.getStore() === id) {
    throw new StoreError(
      "not_committed",
      `A query through the root handle of "${id}" ran inside one of its own transactions: it would need a second pooled connection, and hangs once every connection is held by such a transaction. Use the transaction's handle.`,
    );
  }
}

/**
 * A store's `apply`: sends a write through `send` unless the call was aborted already. Not async,
 * so the handle's own promise is returned as it is, without another one around it.
 */
export function sendUnlessAborted<R>(scope: CallScope, send: () => Promise<R>): Promise<R> {
  try {
    const abort = abortWatchOf(scope);
    if (abort.aborted) {
      throw new StoreError("not_committed", "The write was aborted before it was sent.", {
        cause: abort.reason,
      });
    }
    return send();
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Runs one root-handle query for a call (already checked with {@link refuseRootQuery}) on a pooled
 * connection of its own. When the call's scope aborts while the query runs, the connection is
 * destroyed and its server side ended; the query settles only once that is gone, so a statement
 * lockstep gave up on (one waiting on a row lock, say) can never land afterwards. A query abandoned
 * while it waited for a pooled connection is never sent.
 */
export async function runRootQuery<Pool, Connection extends ErrorEmitter, R>(
  driver: PooledConnections<Pool, Connection>,
  pool: Pool,
  id: string,
  abort: AbortWatch,
  send: (connection: Connection) => Promise<R>,
): Promise<R> {
  if (abort.aborted) throw notSent(id, abort.reason);
  const connection = await driver.connect(pool);
  if (abort.aborted) {
    driver.release(connection);
    throw notSent(id, abort.reason);
  }
  if (driver.emitsQueryErrors) connection.on("error", ignoreConnectionError);
  let aborted = false;
  let closing: Promise<boolean> | undefined;
  let closed: (() => void) | undefined;
  const killed = new Promise<never>((_, reject) => {
    closed = () => reject(new Error("the call was aborted"));
  });
  // Only ever rejected while the query is awaited below, or after it settled: never unhandled.
  killed.catch(() => {});
  const onAbort = () => {
    aborted = true;
    closing = driver.destroy(pool, connection);
    if (closing === undefined) closed?.();
    else closing.then(closed, closed);
  };
  abort.onAbort(onAbort);
  try {
    // The query settles when the ended connection closes; the race covers a server that never
    // says so, once the end has been waited for.
    const result = await Promise.race([send(connection), killed]);
    if (aborted) throw new Error("the call was aborted");
    return result;
  } catch (error) {
    if (!aborted) throw error;
    const gone = await closing;
    // Ended mid-statement, an autocommit statement either committed or rolled back; once its
    // server side is gone the step's probe can tell which.
    throw new StoreError(
      "unknown",
      `The query on "${id}" was aborted while it ran; its ${driver.serverSide} ${gone === false ? "could not be confirmed gone" : `was ${driver.ended} and is gone`}.`,
      { cause: abort.reason },
    );
  } finally {
    abort.offAbort(onAbort);
    if (driver.emitsQueryErrors) connection.off("error", ignoreConnectionError);
    if (!aborted) driver.release(connection);
  }
}

/** The query's own rejection reports a lost connection; the connection's event adds nothing. */
function ignoreConnectionError(): void {}

function notSent(id: string, reason: unknown): StoreError {
  return new StoreError("not_committed", `The query on "${id}" was aborted before it was sent.`, {
    cause: reason,
  });
}
