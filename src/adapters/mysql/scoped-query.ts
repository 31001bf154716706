import type { Pool } from "mysql2/promise";
import type { AbortWatch } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import { refuseTransactionControl } from "../sql/transaction-control.js";
import { killThenDestroy } from "./close-connection.js";
import { mysqlDialect } from "./mysql-dialect.js";
import { openMysqlTransaction } from "./run-transaction.js";
import { type MysqlDriverOptions, type MysqlRaw, paramsOf, queryConfigOf } from "./statements.js";

/**
 * Runs one root-handle query for a call on a pooled connection of its own, answered with `mysql2`'s
 * own result. When the call's scope aborts while it runs, the connection is destroyed and its server
 * thread killed; the query settles only once the thread is gone, so a statement lockstep gave up on
 * (one waiting on a row lock, say) can never land afterwards. A query abandoned while it waited for
 * a pooled connection is never sent.
 */
export async function scopedQuery(
  pool: Pool,
  id: string,
  abort: AbortWatch,
  sql: string,
  params: readonly unknown[] | undefined,
  options?: MysqlDriverOptions,
): Promise<MysqlRaw> {
  refuseRootQuery(id, sql);
  if (abort.aborted) throw notSent(id, abort.reason);
  const connection = await pool.getConnection();
  if (abort.aborted) {
    connection.release();
    throw notSent(id, abort.reason);
  }
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
    closing = killThenDestroy(pool, connection);
    closing.then(closed, closed);
  };
  abort.onAbort(onAbort);
  try {
    // The query settles when the killed connection closes; the race covers a server that never
    // says so, once the kill has been waited for.
    const raw = (await Promise.race([
      connection.query(queryConfigOf(sql, options) as string, paramsOf(params)),
      killed,
    ])) as unknown as MysqlRaw;
    if (aborted) throw new Error("the call was aborted");
    return raw;
  } catch (error) {
    if (!aborted) throw error;
    const gone = await closing;
    // Killed mid-statement, an autocommit statement either committed or rolled back; once its
    // thread is gone the step's probe can tell which.
    throw new StoreError(
      "unknown",
      `The query on "${id}" was aborted while it ran; its connection ${gone === false ? "could not be confirmed gone" : "was killed and is gone"}.`,
      { cause: abort.reason },
    );
  } finally {
    abort.offAbort(onAbort);
    if (!aborted) connection.release();
  }
}

/**
 * Refuses what a root handle must never send: transaction control (a transaction is the store's
 * to open), and any query from inside one of this store's own transactions, which would need a
 * second pooled connection and hangs once every connection is held by such a transaction.
 */
export function refuseRootQuery(id: string, sql: string): void {
  refuseTransactionControl(mysqlDialect, sql);
  if (openMysqlTransaction.getStore() === id) {
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
