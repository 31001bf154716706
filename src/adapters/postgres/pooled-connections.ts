import type { Pool, PoolClient } from "pg";
import type { PooledConnections } from "../sql/root-query.js";
import { backendPid, closeBackend } from "./close-backend.js";

/** How a `pg` pool hands out connections and ends them: what the SQL core's runners need of it. */
export const postgresConnections: PooledConnections<Pool, PoolClient> = {
  connect: (pool) => pool.connect(),
  release: (client) => client.release(),
  destroy(pool, client) {
    const pid = backendPid(client);
    // pg-pool destroys a client released with an error. Its backend may still be running a
    // statement, or a COMMIT: it is terminated, and counts as ended only once it is gone.
    client.release(new Error("lockstep: connection discarded"));
    return pid === undefined ? undefined : closeBackend(pool, pid);
  },
  serverSide: "backend",
  ended: "terminated",
  emitsQueryErrors: true,
};
