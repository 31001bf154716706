import { type SQL, sql } from "drizzle-orm";
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import type { Pool } from "pg";
import type { DrizzleHandle } from "../../src/adapters/drizzle/index.js";
import type { SqlDialect } from "../../src/recipes/sql-client.js";

/** The handle of a Drizzle node-postgres store. */
export type DrizzlePgHandle = DrizzleHandle<NodePgDatabase & { $client: Pool }>;

/** A statement written with `?` placeholders as a Drizzle `SQL` object with bound parameters. */
function statement(text: string, params: readonly unknown[]): SQL {
  const parts = text.split("?");
  const chunks: SQL[] = [sql.raw(parts[0] ?? "")];
  for (let i = 1; i < parts.length; i++)
    chunks.push(sql`${params[i - 1]}`, sql.raw(parts[i] ?? ""));
  return sql.join(chunks);
}

/**
 * The recipes' SQL ports on a Drizzle node-postgres store: every statement runs through the step's
 * Drizzle handle (`handle.execute(sql…)`), the transaction object inside a co-committed step.
 */
export const drizzlePgDialect: SqlDialect<DrizzlePgHandle> = {
  name: "postgres",
  client: (handle) => ({
    exec: async (text, params = []) =>
      (await handle.execute(statement(text, params))).rowCount ?? 0,
    one: async <T>(text: string, params: readonly unknown[] = []) =>
      (await handle.execute(statement(text, params))).rows[0] as T | undefined,
    many: async <T>(text: string, params: readonly unknown[] = []) =>
      (await handle.execute(statement(text, params))).rows as T[],
  }),
};
