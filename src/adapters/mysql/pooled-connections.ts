import type { Pool, PoolConnection } from "mysql2/promise";
import type { PooledConnections } from "../sql/root-query.js";
import { killThenDestroy } from "./close-connection.js";

/** How a `mysql2` pool hands out connections and ends them: what the SQL core's runners need of it. */
export const mysqlConnections: PooledConnections<Pool, PoolConnection> = {
  connect: (pool) => pool.getConnection(),
  release: (connection) => connection.release(),
  // Killed first, destroyed once the server thread is gone: mysql2 settles a statement still in
  // flight only when the server closes the connection, never when it is destroyed locally.
  destroy: (pool, connection) => killThenDestroy(pool, connection),
  serverSide: "connection",
  ended: "killed",
};
