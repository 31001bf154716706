import type { Pool, QueryResult } from "pg";
import type { AbortWatch } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import { refuseTransactionControl } from "../sql/transaction-control.js";
import { backendPid, closeBackend } from "./close-backend.js";
import { postgresDialect } from "./postgres-dialect.js";
import type { DriverOptions } from "./postgres-transaction.js";
import { openTransaction } from "./run-transaction.js";

/**
 * Runs one root-handle query for a call on a pooled connection of its own, with `options` passed
 * to `pg` when given. When the call's scope aborts while the query runs, the connection is
 * discarded and its backend terminated; the query settles only once the backend is gone, so a
 * statement lockstep gave up on (one waiting on a row lock, say) can never land afterwards.
 */
export async function scopedQuery(
  pool: Pool,
  id: string,
  abort: AbortWatch,
  sql: string,
  params: readonly unknown[] | undefined,
  options?: DriverOptions,
): Promise<QueryResult | QueryResult[]> {
  refuseRootQuery(id, sql);
  if (abort.aborted) {
    throw notSent(id, abort.reason);
  }
  const client = await pool.connect();
  if (abort.aborted) {
    // Abandoned while waiting for a connection: the statement is never sent.
    client.release();
    throw notSent(id, abort.reason);
  }
  // A connection lost while checked out (a server restart, a failover) makes `pg` emit `error` on
  // the client as well as rejecting the query; unheard, that event would end the process.
  client.on("error", ignoreClientError);
  const pid = backendPid(client);
  let aborted = false;
  let closing: Promise<boolean> | undefined;
  const onAbort = () => {
    aborted = true;
    client.release(new Error("lockstep: connection discarded"));
    if (pid !== undefined) closing = closeBackend(pool, pid);
  };
  abort.onAbort(onAbort);
  try {
    const values = params === undefined ? undefined : [...params];
    const result = (await (options === undefined
      ? client.query(sql, values)
      : client.query({ ...options, text: sql, ...(values === undefined ? {} : { values }) }))) as
      | QueryResult
      | QueryResult[];
    if (aborted) throw new Error("the call was aborted");
    return result;
  } catch (error) {
    if (!aborted) throw error;
    const gone = await closing;
    // Terminated mid-statement, an autocommit statement either committed or rolled back; once
    // its backend is gone the step's probe can tell which.
    throw new StoreError(
      "unknown",
      `The query on "${id}" was aborted while it ran; its backend ${gone === false ? "could not be confirmed gone" : "was terminated and is gone"}.`,
      { cause: abort.reason },
    );
  } finally {
    abort.offAbort(onAbort);
    client.off("error", ignoreClientError);
    if (!aborted) client.release();
  }
}

/** The query's own rejection reports a lost connection; the client's event adds nothing. */
function ignoreClientError(): void {}

/**
 * Refuses what a root handle must never send: transaction control (a transaction is the store's
 * to open), and any query from inside one of this store's own transactions, which would need a
 * second pooled connection and hangs once every connection is held by such a transaction.
 */
export function refuseRootQuery(id: string, sql: string): void {
  refuseTransactionControl(postgresDialect, sql);
  if (openTransaction.getStore() === id) {
    throw new StoreError(
      "not_committed",
      `A query through the root handle of "${id}" ran inside one of its own transactions: it would need a second pooled connection, and hangs once every connection is held by such a transaction. Use the transaction's handle.`,
    );
  }
}

function notSent(id: string, reason: unknown): StoreError {
  return new StoreError("not_committed", `The query on "${id}" was aborted before it was sent.`, {
    cause: reason,
  });
}
