import type { Pool } from "pg";
import { CliFailure, messageOf } from "./cli-error.js";

/**
 * Before the CLI builds a saga log on a location, these checks look for the log's tables with plain
 * reads (`sqlite_master`, `information_schema.tables`) that create nothing, so a command that only
 * reads never turns a wrong `--log`, `--schema` or `--table-prefix` into a new empty log and reports
 * "nothing there".
 */

/** The names a saga log's tables end with, after its table prefix. */
const SAGAS = "sagas";
const ENTRIES = "saga_entries";

/** How many other places holding lockstep tables a message names before it says how many more. */
const SHOWN = 10;

/** The table prefixes `names` hold a complete saga log for (both `<prefix>sagas` and `<prefix>saga_entries`). */
export function logPrefixes(names: Iterable<string>): string[] {
  const all = new Set(names);
  const prefixes: string[] = [];
  for (const name of all) {
    if (!name.endsWith(ENTRIES)) continue;
    const prefix = name.slice(0, -ENTRIES.length);
    if (all.has(`${prefix}${SAGAS}`)) prefixes.push(prefix);
  }
  return prefixes.sort();
}

/** The tables a log with `prefix` needs that `names` lacks. */
function missingTables(names: ReadonlySet<string>, prefix: string): string[] {
  return [`${prefix}${SAGAS}`, `${prefix}${ENTRIES}`].filter((table) => !names.has(table));
}

/** `items`, at most {@link SHOWN} of them, then how many more there are. */
function listSome(items: readonly string[]): string {
  const shown = items.slice(0, SHOWN).join(", ");
  return items.length > SHOWN ? `${shown} and ${items.length - SHOWN} more` : shown;
}

/**
 * Throws a {@link CliFailure} unless the SQLite file at `path` (which exists) holds the tables of a
 * saga log with `prefix`; the failure names the file, the missing tables and the prefixes of the
 * logs the file does hold. Reads `sqlite_master` on a connection of its own and closes it: the file
 * is left as it was.
 */
export async function requireSqliteLogTables(path: string, prefix: string): Promise<void> {
  let names: Set<string>;
  try {
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(path, { fileMustExist: true });
    try {
      const rows = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
        name: string;
      }[];
      names = new Set(rows.map((row) => row.name));
    } finally {
      db.close();
    }
  } catch (error) {
    throw new CliFailure(`The SQLite database "${path}" could not be read: ${messageOf(error)}`, {
      cause: error,
    });
  }
  const missing = missingTables(names, prefix);
  if (missing.length === 0) return;
  const others = logPrefixes(names).map((p) => `"${p}"`);
  throw new CliFailure(
    `There is no saga log with table prefix "${prefix}" in the SQLite database "${path}": it has no table ${missing.join(" or ")}. ${
      others.length === 0
        ? "The file holds no lockstep tables at all: is --log the right file?"
        : `The file holds lockstep tables with prefix ${listSome(others)}: pass --table-prefix <prefix> to read them.`
    }`,
  );
}

/**
 * Throws a {@link CliFailure} unless schema `schema` of the database behind `pool` holds the tables
 * of a saga log with `prefix`; the failure names where it looked (`name`, the database without its
 * password), the missing tables, and the schemas (with prefixes) that do hold lockstep tables.
 * Reads `information_schema.tables` only.
 */
export async function requirePostgresLogTables(
  pool: Pool,
  name: string,
  schema: string,
  prefix: string,
): Promise<void> {
  let rows: { table_schema: string; table_name: string }[];
  try {
    const result = await pool.query<{ table_schema: string; table_name: string }>(
      `SELECT table_schema, table_name FROM information_schema.tables
        WHERE table_name LIKE '%' || $1 OR table_name LIKE '%' || $2`,
      [SAGAS, ENTRIES.replaceAll("_", "\\_")],
    );
    rows = result.rows;
  } catch (error) {
    throw new CliFailure(
      `The tables of the Postgres database ${name} could not be read: ${messageOf(error)}`,
      { cause: error },
    );
  }
  const bySchema = new Map<string, string[]>();
  for (const row of rows) {
    const names = bySchema.get(row.table_schema) ?? [];
    names.push(row.table_name);
    bySchema.set(row.table_schema, names);
  }
  const missing = missingTables(new Set(bySchema.get(schema) ?? []), prefix);
  if (missing.length === 0) return;
  const found = [...bySchema]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .flatMap(([other, names]) => logPrefixes(names).map((p) => `"${other}" (table prefix "${p}")`));
  throw new CliFailure(
    `There is no saga log with table prefix "${prefix}" in schema "${schema}" of the Postgres database ${name}: it has no table ${missing.join(" or ")}. ${
      found.length === 0
        ? "No schema of this database holds lockstep tables: is --log the right database?"
        : `Lockstep tables are in schema ${listSome(found)}: pass --schema <name> (and --table-prefix <prefix>) to read them.`
    }`,
  );
}
