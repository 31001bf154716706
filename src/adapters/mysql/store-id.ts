import type { Pool } from "mysql2/promise";
import { settingsOf } from "./assert-pool.js";

/**
 * The identity lockstep gives the database a `mysql2` pool connects to:
 * `"mysql:<host>:<port>/<database>"` (or `"mysql:<socketPath>/<database>"`), read from the pool's
 * connection settings. `mysqlStore` and `mysqlSagaLog` both use it, so a store and a log on one
 * pool, or on two pools configured alike, agree and can co-commit. Two spellings of one server
 * (`localhost` and `127.0.0.1`) give two ids: pass the same explicit `id` to both when that matters.
 *
 * @example
 * ```ts
 * mysqlStoreId(createPool({ host: "db.internal", database: "orders" }));
 * // "mysql:db.internal:3306/orders"
 * ```
 */
export function mysqlStoreId(pool: Pool): string {
  const settings = settingsOf(pool);
  const database = settings.database ?? "";
  if (settings.socketPath) return `mysql:${settings.socketPath}/${database}`;
  return `mysql:${settings.host ?? "localhost"}:${settings.port ?? 3306}/${database}`;
}
