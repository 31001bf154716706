import type { Pool } from "pg";
import { describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";

interface Target {
  host?: string | undefined;
  port?: number | string | undefined;
  database?: string | undefined;
  user?: string | undefined;
  connectionString?: string | undefined;
}

function fromConnectionString(connectionString: string): Target {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw new LockstepDefinitionError(
      `Could not read host, port and database from the pool's connection string ${describeValue(connectionString.replace(/:[^:@/]*@/, ":***@"))}; pass \`id\` explicitly.`,
    );
  }
  const socketHost = url.searchParams.get("host") ?? undefined;
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  return {
    host: url.hostname === "" ? socketHost : decodeURIComponent(url.hostname),
    port: url.port === "" ? (url.searchParams.get("port") ?? undefined) : url.port,
    database: database === "" ? undefined : database,
    user: url.username === "" ? undefined : decodeURIComponent(url.username),
  };
}

/**
 * The identity lockstep gives the database a `pg.Pool` connects to: `"postgres:<host>:<port>/<database>"`,
 * read from the pool's options the way `pg` reads them (a connection string wins over separate
 * fields, then `PGHOST`, `PGPORT`, `PGDATABASE`, `PGUSER`, then `localhost`, `5432` and the user
 * name as the database). `postgresStore` and `postgresSagaLog` both use it, so a store and a log on
 * one pool, or on two pools configured alike, agree and can co-commit. Two spellings of one server
 * (`localhost` and `127.0.0.1`) give two ids: pass the same explicit `id` to both when that matters.
 *
 * @example
 * ```ts
 * postgresStoreId(new Pool({ connectionString: "postgres://app@db.internal:5432/orders" }));
 * // "postgres:db.internal:5432/orders"
 * ```
 */
export function postgresStoreId(pool: Pool): string {
  const options = ((pool as { options?: unknown }).options ?? {}) as Target;
  const target: Target =
    typeof options.connectionString === "string" && options.connectionString !== ""
      ? { ...options, ...stripUndefined(fromConnectionString(options.connectionString)) }
      : options;
  const env = process.env;
  const host = target.host ?? env.PGHOST ?? "localhost";
  const port = String(target.port ?? env.PGPORT ?? 5432);
  const user = target.user ?? env.PGUSER ?? env.USER;
  const database = target.database ?? env.PGDATABASE ?? user ?? "postgres";
  return `postgres:${host}:${port}/${database}`;
}

function stripUndefined(target: Target): Target {
  return Object.fromEntries(Object.entries(target).filter(([, v]) => v !== undefined)) as Target;
}
