import type { Pool } from "pg";
import { assertDenoPermissions } from "../../core/runtime-permissions.js";

/** The variables `pg` reads for a connection's defaults. */
const PG_VARIABLES = ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"];

/** Where the pool connects, when its options say so without reading the environment. */
function serverOf(pool: Pool): string | undefined {
  const options = ((pool as { options?: unknown }).options ?? {}) as {
    host?: unknown;
    port?: unknown;
    connectionString?: unknown;
  };
  if (typeof options.connectionString === "string") {
    try {
      const url = new URL(options.connectionString);
      if (url.hostname !== "") return `${url.hostname}:${url.port === "" ? "5432" : url.port}`;
    } catch {
      return undefined;
    }
  }
  if (typeof options.host === "string" && !options.host.startsWith("/"))
    return `${options.host}:${typeof options.port === "number" || typeof options.port === "string" ? options.port : 5432}`;
  return undefined;
}

/**
 * On Deno, refuses a pool the program lacks the permissions for: `--allow-env` (pg reads the PG*
 * variables for every connection) and `--allow-net` to the server.
 */
export function assertPostgresPermissions(pool: Pool, entry: string): void {
  const server = serverOf(pool);
  assertDenoPermissions(entry, [
    ...PG_VARIABLES.map((variable) => ({
      query: { name: "env" as const, variable },
      flag: "--allow-env",
      why: "pg reads the PG* environment variables",
    })),
    {
      query: server === undefined ? { name: "net" } : { name: "net", host: server },
      flag: "--allow-net",
      why: `to reach Postgres${server === undefined ? "" : ` at ${server}`}`,
    },
  ]);
}
