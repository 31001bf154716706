import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { SagaLog } from "../log/saga-log.js";
import { CliFailure, messageOf, UsageError } from "./cli-error.js";
import { requirePostgresLogTables, requireSqliteLogTables } from "./log-tables.js";
import { openMysqlLog } from "./open-mysql-log.js";

/** The table prefix of a log opened without `--table-prefix`, as the log constructors default it. */
const DEFAULT_PREFIX = "lockstep_";
/** The Postgres schema of a log opened without `--schema`, as `postgresSagaLog` defaults it. */
const DEFAULT_SCHEMA = "public";

/** Where `--log` points. */
export type LogLocation =
  | { readonly kind: "sqlite"; readonly path: string }
  | { readonly kind: "postgres"; readonly url: string }
  | { readonly kind: "mysql"; readonly url: string };

/** An opened saga log and how to let go of it. */
export interface OpenedLog {
  readonly log: SagaLog;
  /** A readable name for messages: the file or the database. */
  readonly name: string;
  close(): Promise<void>;
}

/** Options for opening a log from the command line. */
export interface OpenLogOptions {
  /** `--table-prefix`: the log's table prefix. */
  readonly tablePrefix: string | undefined;
  /** `--schema`: the Postgres schema, or the MySQL database holding the tables. */
  readonly schema: string | undefined;
  /**
   * Whether the command may create the log's tables when they are missing (only `recover` does).
   * Otherwise the tables must already be there: a location without them fails, naming where it
   * looked and where lockstep tables are, and nothing is created.
   */
  readonly mayCreate: boolean;
}

/**
 * Parses `--log`: `sqlite:<path>`, `postgres:<url>`, `mysql:<url>`, or a `postgres://`,
 * `postgresql://` or `mysql://` URL as it is. Throws a usage error naming the value otherwise.
 */
export function parseLogLocation(value: string, command: string): LogLocation {
  if (value.startsWith("sqlite:")) {
    const path = value.slice("sqlite:".length);
    if (path.length === 0) {
      throw new UsageError(`Expected --log sqlite:<path> to name a file, got "${value}".`, command);
    }
    return { kind: "sqlite", path };
  }
  if (value.startsWith("postgres://") || value.startsWith("postgresql://")) {
    return { kind: "postgres", url: value };
  }
  if (value.startsWith("postgres:")) {
    const url = value.slice("postgres:".length);
    if (url.length === 0) {
      throw new UsageError(
        `Expected --log postgres:<url> to carry a connection URL, got "${value}".`,
        command,
      );
    }
    return { kind: "postgres", url };
  }
  if (value.startsWith("mysql:")) {
    const url = value.startsWith("mysql://") ? value : value.slice("mysql:".length);
    if (!hasDatabasePath(url)) {
      throw new UsageError(
        `Expected --log mysql:<url> to be a mysql://user@host:port/<database> URL naming a database, got "${value}".`,
        command,
      );
    }
    return { kind: "mysql", url };
  }
  throw new UsageError(
    `Expected --log to be sqlite:<path>, postgres:<url> or mysql:<url>, got "${value}".`,
    command,
  );
}

/** Whether `url` is a `mysql://` URL with a database in its path. */
function hasDatabasePath(url: string): boolean {
  if (!url.startsWith("mysql://")) return false;
  try {
    return new URL(url).pathname.replace(/^\//, "") !== "";
  } catch {
    return false;
  }
}

/**
 * Opens the saga log `--log` points at. The SQLite file must exist: the CLI never creates one. Unless
 * `options.mayCreate`, the log's tables must exist too, checked with plain reads before the log is
 * built (the log constructors create missing tables).
 */
export async function openLog(location: LogLocation, options: OpenLogOptions): Promise<OpenedLog> {
  if (location.kind === "sqlite") {
    const path = resolve(location.path);
    if (!existsSync(path)) {
      throw new CliFailure(
        `There is no SQLite database at "${path}" (from --log sqlite:${location.path}).`,
      );
    }
    if (!options.mayCreate) {
      await requireSqliteLogTables(path, options.tablePrefix ?? DEFAULT_PREFIX);
    }
    const sqlite = await import("../adapters/sqlite/index.js");
    let db: ReturnType<typeof sqlite.openSqlite>;
    try {
      db = sqlite.openSqlite(path, { fileMustExist: true });
    } catch (error) {
      throw new CliFailure(
        `The SQLite database "${path}" could not be opened: ${messageOf(error)}`,
        {
          cause: error,
        },
      );
    }
    const log = sqlite.sqliteSagaLog(
      db,
      options.tablePrefix === undefined ? {} : { tablePrefix: options.tablePrefix },
    );
    return {
      log,
      name: path,
      close: async () => db.close(),
    };
  }
  if (location.kind === "mysql") {
    return openMysqlLog({
      url: location.url,
      database: options.schema,
      tablePrefix: options.tablePrefix ?? DEFAULT_PREFIX,
      mayCreate: options.mayCreate,
    });
  }
  let Pool: typeof import("pg").Pool;
  try {
    const pg = await import("pg");
    Pool = (pg.default?.Pool ?? (pg as unknown as typeof import("pg")).Pool) as typeof Pool;
  } catch (error) {
    throw new CliFailure(
      `A Postgres log needs the \`pg\` package, which could not be loaded (${messageOf(error)}); install it with \`npm install pg\`.`,
      { cause: error },
    );
  }
  const pool = new Pool({ connectionString: location.url, max: 4 });
  // An idle client's error (the server restarting) must not crash the command; queries report it.
  pool.on("error", () => {});
  const name = redact(location.url);
  if (!options.mayCreate) {
    try {
      await requirePostgresLogTables(
        pool,
        name,
        options.schema ?? DEFAULT_SCHEMA,
        options.tablePrefix ?? DEFAULT_PREFIX,
      );
    } catch (error) {
      await pool.end();
      throw error;
    }
  }
  const postgres = await import("../adapters/postgres/index.js");
  const log = postgres.postgresSagaLog(pool, {
    ...(options.schema === undefined ? {} : { schema: options.schema }),
    ...(options.tablePrefix === undefined ? {} : { tablePrefix: options.tablePrefix }),
  });
  return {
    log,
    name,
    close: () => pool.end(),
  };
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(postgres)";
  }
}
