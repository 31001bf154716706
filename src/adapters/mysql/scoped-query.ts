import type { Pool } from "mysql2/promise";
import type { AbortWatch } from "../../core/deadline.js";
import { refuseRootQuery as refuseSqlRootQuery, runRootQuery } from "../sql/root-query.js";
import { mysqlDialect } from "./mysql-dialect.js";
import { mysqlConnections } from "./pooled-connections.js";
import { openMysqlTransaction } from "./run-transaction.js";
import { type MysqlDriverOptions, type MysqlRaw, paramsOf, queryConfigOf } from "./statements.js";

/**
 * Runs one root-handle query for a call on a pooled connection of its own, answered with `mysql2`'s
 * own result. When the call's scope aborts while it runs, the connection's server thread is killed
 * and the query settles only once the thread is gone, so a statement lockstep gave up on (one
 * waiting on a row lock, say) can never land afterwards. A query abandoned while it waited for a
 * pooled connection is never sent.
 */
export function scopedQuery(
  pool: Pool,
  id: string,
  abort: AbortWatch,
  sql: string,
  params: readonly unknown[] | undefined,
  options?: MysqlDriverOptions,
): Promise<MysqlRaw> {
  try {
    refuseRootQuery(id, sql);
  } catch (error) {
    return Promise.reject(error);
  }
  return runRootQuery(
    mysqlConnections,
    pool,
    id,
    abort,
    (connection) =>
      connection.query(
        queryConfigOf(sql, options) as string,
        paramsOf(params),
      ) as unknown as Promise<MysqlRaw>,
  );
}

/**
 * Refuses what a root handle of MySQL store `id` must never send: transaction control, and any
 * query from inside one of the store's own transactions.
 */
export function refuseRootQuery(id: string, sql: string): void {
  refuseSqlRootQuery(mysqlDialect, openMysqlTransaction, id, sql);
}
