import type { Pool } from "mysql2/promise";
import { CliFailure, messageOf } from "./cli-error.js";
import { logPrefixes } from "./log-tables.js";

/** What opening a MySQL log needs from the command line. */
export interface MysqlLogRequest {
  /** The `mysql://` URL, with the database in its path. */
  readonly url: string;
  /** `--schema`: for MySQL, the database holding the log's tables, when not the URL's. */
  readonly database: string | undefined;
  readonly tablePrefix: string;
  /** Whether the log's tables may be created (only `recover`). */
  readonly mayCreate: boolean;
}

/** An opened MySQL log's parts, as `openLog` returns them. */
export interface OpenedMysqlLog {
  readonly log: import("../log/saga-log.js").SagaLog;
  readonly name: string;
  close(): Promise<void>;
}

/**
 * Opens the saga log in the MySQL or MariaDB database of `request.url`. The database must exist:
 * one that does not fails with a message naming it and the server, and nothing is created. Unless
 * `mayCreate`, the log's tables must exist too, checked with a read of `information_schema.TABLES`.
 */
export async function openMysqlLog(request: MysqlLogRequest): Promise<OpenedMysqlLog> {
  const name = redactMysql(request.url);
  let url: URL;
  try {
    url = new URL(request.url);
  } catch (error) {
    throw new CliFailure(
      `Expected --log to be a mysql://user@host:port/database URL, got ${name}.`,
      {
        cause: error,
      },
    );
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (database === "") {
    throw new CliFailure(
      `Expected the MySQL log URL ${name} to name a database in its path (mysql://user@host:3306/<database>).`,
    );
  }
  let createPool: typeof import("mysql2/promise").createPool;
  try {
    const mysql = await import("mysql2/promise");
    createPool = (mysql.default?.createPool ?? mysql.createPool) as typeof createPool;
  } catch (error) {
    throw new CliFailure(
      `A MySQL log needs the \`mysql2\` package, which could not be loaded (${messageOf(error)}); install it with \`npm install mysql2\`.`,
      { cause: error },
    );
  }
  const pool = createPool({ uri: request.url, connectionLimit: 4 });
  try {
    await requireDatabase(pool, name, database);
    if (!request.mayCreate) {
      await requireMysqlLogTables(pool, name, request.database ?? database, request.tablePrefix);
    }
  } catch (error) {
    await pool.end();
    throw error;
  }
  const { mysqlSagaLog } = await import("../adapters/mysql/index.js");
  const log = mysqlSagaLog(pool, {
    ...(request.database === undefined ? {} : { database: request.database }),
    tablePrefix: request.tablePrefix,
  });
  return { log, name, close: () => pool.end() };
}

/** Connects once, turning "unknown database" (1049) into a failure that names the database. */
async function requireDatabase(pool: Pool, name: string, database: string): Promise<void> {
  try {
    await pool.query("SELECT 1");
  } catch (error) {
    if ((error as { errno?: unknown }).errno === 1049) {
      throw new CliFailure(
        `There is no MySQL database "${database}" on the server of ${name}; lockstep creates tables, never databases.`,
        { cause: error },
      );
    }
    throw new CliFailure(`The MySQL database ${name} could not be reached: ${messageOf(error)}`, {
      cause: error,
    });
  }
}

/**
 * Throws a {@link CliFailure} unless `database` holds the tables of a saga log with `prefix`; the
 * failure names where it looked and the databases (with prefixes) that do hold lockstep tables.
 */
async function requireMysqlLogTables(
  pool: Pool,
  name: string,
  database: string,
  prefix: string,
): Promise<void> {
  const [rows] = await pool.query(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES
      WHERE TABLE_NAME LIKE '%sagas' OR TABLE_NAME LIKE '%saga\\_entries'`,
  );
  const byDatabase = new Map<string, string[]>();
  for (const row of rows as { s: string; t: string }[]) {
    byDatabase.set(row.s, [...(byDatabase.get(row.s) ?? []), row.t]);
  }
  const names = new Set(byDatabase.get(database) ?? []);
  const missing = [`${prefix}sagas`, `${prefix}saga_entries`].filter((t) => !names.has(t));
  if (missing.length === 0) return;
  const found = [...byDatabase]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .flatMap(([other, tables]) =>
      logPrefixes(tables).map((p) => `"${other}" (table prefix "${p}")`),
    )
    .slice(0, 10);
  throw new CliFailure(
    `There is no saga log with table prefix "${prefix}" in the MySQL database "${database}" (${name}): it has no table ${missing.join(" or ")}. ${
      found.length === 0
        ? "No database on this server holds lockstep tables: is --log the right server?"
        : `Lockstep tables are in database ${found.join(", ")}: pass --schema <database> (and --table-prefix <prefix>) to read them.`
    }`,
  );
}

/** The URL without its password, for messages. */
export function redactMysql(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(mysql)";
  }
}
