import type { Pool, QueryResult } from "pg";
import type { AbortWatch } from "../../core/deadline.js";
import { refuseRootQuery as refuseSqlRootQuery, runRootQuery } from "../sql/root-query.js";
import { postgresConnections } from "./pooled-connections.js";
import { postgresDialect } from "./postgres-dialect.js";
import type { DriverOptions } from "./postgres-transaction.js";
import { openTransaction } from "./run-transaction.js";

/**
 * Runs one root-handle query for a call on a pooled connection of its own, with `options` passed
 * to `pg` when given. When the call's scope aborts while the query runs, the connection is
 * discarded and its backend terminated; the query settles only once the backend is gone, so a
 * statement lockstep gave up on (one waiting on a row lock, say) can never land afterwards.
 */
export function scopedQuery(
  pool: Pool,
  id: string,
  abort: AbortWatch,
  sql: string,
  params: readonly unknown[] | undefined,
  options?: DriverOptions,
): Promise<QueryResult | QueryResult[]> {
  try {
    refuseRootQuery(id, sql);
  } catch (error) {
    return Promise.reject(error);
  }
  const values = params === undefined ? undefined : [...params];
  return runRootQuery(
    postgresConnections,
    pool,
    id,
    abort,
    (client) =>
      (options === undefined
        ? client.query(sql, values)
        : client.query({
            ...options,
            text: sql,
            ...(values === undefined ? {} : { values }),
          })) as Promise<QueryResult | QueryResult[]>,
  );
}

/**
 * Refuses what a root handle of Postgres store `id` must never send: transaction control, and any
 * query from inside one of the store's own transactions.
 */
export function refuseRootQuery(id: string, sql: string): void {
  refuseSqlRootQuery(postgresDialect, openTransaction, id, sql);
}
