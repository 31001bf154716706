import type { Pool, PoolConnection } from "mysql2/promise";
import { DEFAULT_CLOSE_TIMEOUT_MS, pollUntilGone } from "../sql/until-gone.js";
import { corePoolOf } from "./assert-pool.js";

/** A callback-API `mysql2` connection, as the side connection is driven. */
interface CoreConnection {
  query(sql: string, values: unknown[], cb: (error: unknown, rows: unknown) => void): void;
  on(event: "error", listener: (error: unknown) => void): void;
  destroy(): void;
}

/**
 * Kills the server connection behind `pooled` (a connection checked out of `pool`) for certain,
 * from a connection of its own, and resolves once the server no longer lists its thread in
 * `information_schema.PROCESSLIST`: `true` when it is gone (or never was), `false` when it was still
 * there after `timeoutMs` (or the side connection failed), in which case the attempt stays open.
 *
 * Why kill the connection rather than only its query, and why wait: a killed query does not stop a
 * `COMMIT` that is already writing, and a closed socket is noticed by the server only when it next
 * talks to the client. Only once the server thread has finished (rolling back what was not
 * committed) is the transaction's fate fixed, so a probe after that is authoritative.
 *
 * The side connection is a fresh connection with the pool's settings, not one of the pool's: the
 * pool may be exhausted by exactly the attempts being closed.
 */
export async function killAndWait(
  pool: Pool,
  pooled: unknown,
  timeoutMs: number = DEFAULT_CLOSE_TIMEOUT_MS,
): Promise<boolean> {
  const threadId = threadIdOf(pooled);
  if (threadId === undefined) return false;
  let side: CoreConnection;
  try {
    side = openSide(pool, pooled);
  } catch {
    return false;
  }
  side.on("error", () => {});
  const run = (sql: string, values: unknown[]) =>
    new Promise<unknown>((resolve, reject) =>
      side.query(sql, values, (error, rows) => (error ? reject(error) : resolve(rows))),
    );
  const until = Date.now() + timeoutMs;
  try {
    try {
      await run("KILL ?", [threadId]);
    } catch (error) {
      // 1094: no such thread, it has already ended.
      if ((error as { errno?: unknown }).errno !== 1094) throw error;
    }
    return await pollUntilGone(
      async () =>
        (await run("SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ?", [
          threadId,
        ])) as unknown[],
      until,
    );
  } catch {
    return false;
  } finally {
    side.destroy();
  }
}

/**
 * A connection outside the pool, with a copy of the pool's connection settings. Its class is the
 * plain connection class the pooled connection's own class extends, so lockstep imports nothing of
 * `mysql2` and uses the user's copy of it.
 */
function openSide(pool: Pool, pooled: unknown): CoreConnection {
  const settings = corePoolOf(pool).config.connectionConfig;
  const config = Object.create(
    Object.getPrototypeOf(settings),
    Object.getOwnPropertyDescriptors(settings),
  ) as { pool?: unknown };
  // Not one of the pool's: the pool must not count, reuse or close it.
  config.pool = undefined;
  const core = (pooled as { connection?: object }).connection ?? (pooled as object);
  const pooledClass = core.constructor as { prototype: object };
  const Class = (Object.getPrototypeOf(pooledClass.prototype) as { constructor: unknown })
    .constructor as new (options: {
    config: object;
  }) => CoreConnection;
  return new Class({ config });
}

/**
 * Kills `pooled`'s server thread ({@link killAndWait}), then destroys the connection on this side,
 * so the pool never hands it out again. Resolves as `killAndWait` does.
 */
export async function killThenDestroy(pool: Pool, pooled: PoolConnection): Promise<boolean> {
  try {
    return await killAndWait(pool, pooled);
  } finally {
    pooled.destroy();
  }
}

/** The server's id for a `mysql2` connection (`CONNECTION_ID()`), when it is known. */
export function threadIdOf(connection: unknown): number | undefined {
  const id = (connection as { threadId?: unknown } | null)?.threadId;
  return typeof id === "number" && id > 0 ? id : undefined;
}
