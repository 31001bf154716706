import type { Client, ClientConfig, Pool } from "pg";
import { DEFAULT_CLOSE_TIMEOUT_MS, pollUntilGone } from "../sql/until-gone.js";

/**
 * Ends backend `pid` for certain, from a connection of its own, and resolves once the backend is
 * gone from `pg_stat_activity`: `true` when it is (or never was), `false` when it was still there
 * after `timeoutMs` (or the side connection failed), in which case the attempt stays open.
 *
 * Why terminate rather than cancel, and why wait: a cancel does not stop a COMMIT that is already
 * writing or waiting (on a deferred trigger, a synchronous standby), and a closed socket is noticed
 * by the backend only when it next talks to the client. Only once the backend process has exited is
 * its transaction's fate fixed — committed, if its commit record was written, or rolled back — so
 * a probe after that is authoritative.
 *
 * The side connection is a fresh client with the pool's settings, not one of the pool's: the pool
 * may be exhausted by exactly the attempts being closed.
 */
export async function closeBackend(
  pool: Pool,
  pid: number,
  timeoutMs: number = DEFAULT_CLOSE_TIMEOUT_MS,
): Promise<boolean> {
  const ClientClass = (pool as unknown as { Client: new (config: ClientConfig) => Client }).Client;
  const options = (pool as unknown as { options: ClientConfig }).options;
  const side = new ClientClass({ ...options, application_name: "lockstep-fence" });
  side.on("error", () => {});
  const until = Date.now() + timeoutMs;
  try {
    await side.connect();
    await side.query("SELECT pg_terminate_backend($1)", [pid]);
    return await pollUntilGone(
      async () => (await side.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid])).rows,
      until,
    );
  } catch {
    return false;
  } finally {
    await side.end().catch(() => {});
  }
}

/** The backend process id of a connected `pg` client, when it is known. */
export function backendPid(client: unknown): number | undefined {
  const pid = (client as { processID?: unknown } | null)?.processID;
  return typeof pid === "number" && pid > 0 ? pid : undefined;
}
