import { assertInteger, describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import type { SqliteDriver } from "./sqlite-driver.js";
import { SqliteEngine } from "./sqlite-engine.js";

/** Options of `openSqlite` (from `lockstep/sqlite` or `lockstep/bun-sqlite`). */
export interface SqliteOptions {
  /**
   * How long, in milliseconds, a write waits for a lock held by another process before failing with
   * `SQLITE_BUSY` (a `transient` error). Writers in this process never wait here: they queue on the
   * database's write gate instead.
   *
   * @default 5000
   * @example `openSqlite("app.db", { busyTimeoutMs: 1000 })`
   */
  readonly busyTimeoutMs?: number;
  /**
   * Whether to refuse to open a file that does not exist yet, instead of creating it.
   *
   * @default false
   * @example `openSqlite("app.db", { fileMustExist: true })`
   */
  readonly fileMustExist?: boolean;
}

/**
 * One SQLite database opened by lockstep: the connections to its file, through better-sqlite3
 * (`lockstep/sqlite`) or `bun:sqlite` (`lockstep/bun-sqlite`), and the write gate every writer in
 * this process shares. Pass it to `sqliteStore` and `sqliteSagaLog`.
 */
export interface SqliteDatabase {
  /**
   * The database's identity, `"sqlite:<absolute real path>"`, or `"sqlite::memory:<n>"` for an
   * in-memory database. Stores and saga logs on one database share it, which is how the runner knows
   * a step's writes and its log record can commit in one transaction.
   */
  readonly id: string;
  /** The absolute real path of the file, or `":memory:"`. */
  readonly path: string;
  /** Whether the database lives in memory, on a single connection, and vanishes on close. */
  readonly inMemory: boolean;
  /** Whether {@link SqliteDatabase.close} has been called. */
  readonly closed: boolean;
  /**
   * Closes every connection. A transaction still open is rolled back by SQLite; every later use of
   * the database, its stores, handles and logs fails with an error saying it was closed. Calling it
   * again does nothing.
   */
  close(): void;
}

const ENGINE = Symbol.for("lockstep.sqlite.engine");

/**
 * Opens a database through `driver`, after checking the path and options: what `openSqlite` does on
 * every binding.
 */
export function openDatabase(
  driver: SqliteDriver,
  path: string,
  options: SqliteOptions = {},
): SqliteDatabase {
  if (typeof path !== "string" || path.length === 0) {
    throw new LockstepDefinitionError(
      `Expected \`path\` to be a database file path or ":memory:", got ${describeValue(path)}.`,
    );
  }
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  assertInteger("busyTimeoutMs", busyTimeoutMs, 0);
  const fileMustExist = options.fileMustExist ?? false;
  if (typeof fileMustExist !== "boolean") {
    throw new LockstepDefinitionError(
      `Expected \`fileMustExist\` to be a boolean, got ${describeValue(fileMustExist)}.`,
    );
  }
  const engine = new SqliteEngine(driver, path, busyTimeoutMs, fileMustExist);
  const database: SqliteDatabase = {
    id: engine.id,
    path: engine.path,
    inMemory: engine.inMemory,
    get closed() {
      return engine.closed;
    },
    close: () => engine.close(),
  };
  Object.defineProperty(database, ENGINE, { value: engine });
  return Object.freeze(database);
}

/** The engine behind a database from `openSqlite`; refuses anything else by name. */
export function engineOf(db: SqliteDatabase, argument = "db"): SqliteEngine {
  const engine =
    typeof db === "object" && db !== null
      ? ((db as unknown as Record<symbol, unknown>)[ENGINE] as SqliteEngine | undefined)
      : undefined;
  if (engine === undefined) {
    throw new LockstepDefinitionError(
      `Expected \`${argument}\` to be a database returned by openSqlite(), got ${describeValue(db)}.`,
    );
  }
  return engine;
}
