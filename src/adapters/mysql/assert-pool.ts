import type { Pool } from "mysql2/promise";
import { describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import { describeInstance } from "../sql/unsupported-dialect.js";

/** The settings `mysql2` keeps for every connection of a pool, as lockstep reads them. */
export interface MysqlConnectionSettings {
  readonly host?: string;
  readonly port?: number;
  readonly socketPath?: string;
  readonly database?: string;
  readonly user?: string;
}

/** The callback-API pool inside a promise pool, where `mysql2` keeps the connection settings. */
export function corePoolOf(pool: Pool): { readonly config: { readonly connectionConfig: object } } {
  return (pool as unknown as { pool: { config: { connectionConfig: object } } }).pool;
}

/**
 * Refuses anything that is not a `mysql2` promise pool (`mysql2/promise`'s `createPool`, or a
 * callback pool's `.promise()`): a single connection cannot give each transaction a connection of
 * its own, and a callback pool answers through callbacks lockstep does not pass.
 */
export function assertPool(pool: unknown, argument = "pool"): asserts pool is Pool {
  const candidate = pool as {
    getConnection?: unknown;
    query?: unknown;
    promise?: unknown;
    pool?: { config?: { connectionConfig?: unknown } };
  } | null;
  if (typeof candidate !== "object" || candidate === null) {
    throw notAPool(argument, pool);
  }
  if (typeof candidate.promise === "function" && typeof candidate.getConnection === "function") {
    throw new LockstepDefinitionError(
      `Expected \`${argument}\` to be a mysql2 promise pool (from "mysql2/promise"), got a mysql2 callback pool ${describeValue(pool)}; pass \`${argument}.promise()\` instead.`,
    );
  }
  if (
    typeof candidate.getConnection !== "function" ||
    typeof candidate.query !== "function" ||
    typeof candidate.pool?.config?.connectionConfig !== "object"
  ) {
    throw notAPool(argument, pool);
  }
}

function notAPool(argument: string, pool: unknown): LockstepDefinitionError {
  return new LockstepDefinitionError(
    `Expected \`${argument}\` to be a mysql2 promise pool (createPool from "mysql2/promise"; a single connection cannot give each transaction a connection of its own), got ${describeInstance(pool)}.`,
  );
}

/** The connection settings of a pool that passed {@link assertPool}. */
export function settingsOf(pool: Pool): MysqlConnectionSettings {
  return corePoolOf(pool).config.connectionConfig as MysqlConnectionSettings;
}
