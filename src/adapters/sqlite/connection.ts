import { StoreError } from "../../core/error-kinds.js";
import type { RawSqliteDatabase, RawSqliteStatement, SqliteDriver } from "./sqlite-driver.js";
import type { SqliteRunResult } from "./sqlite-handle.js";

/**
 * How a statement's rows are wanted: `run` for what it changed, `get`/`all` for rows as objects,
 * `raw-get`/`raw-all` for rows as arrays of column values (what an ORM maps columns from), `auto`
 * for `all`'s rows from a statement that returns rows and `run`'s result from one that does not.
 */
export type StatementMode = "run" | "get" | "all" | "raw-get" | "raw-all" | "auto";

/** Synchronous statement execution, for code that must not yield while it holds a transaction. */
export interface SyncSql {
  run(sql: string, params?: readonly unknown[]): SqliteRunResult;
  get<T>(sql: string, params?: readonly unknown[]): T | undefined;
  all<T>(sql: string, params?: readonly unknown[]): T[];
  /** Runs several statements without parameters, e.g. schema DDL. */
  exec(sql: string): void;
}

const STATEMENT_CACHE_SIZE = 128;

/** The transaction control statements lockstep itself runs on a connection. */
export type ControlStatement = "BEGIN" | "BEGIN IMMEDIATE" | "COMMIT" | "ROLLBACK";

/** One connection, through an SQLite binding, with lockstep's pragmas and a small statement cache. */
export class Connection {
  readonly raw: RawSqliteDatabase;
  readonly #statements = new Map<string, CachedStatement>();
  // Prepared once, outside the cache: `exec` would compile them on every transaction.
  readonly #control = new Map<ControlStatement, RawSqliteStatement>();

  constructor(driver: SqliteDriver, path: string, busyTimeoutMs: number, fileMustExist: boolean) {
    this.raw = driver.open(path, fileMustExist);
    try {
      // The busy timeout first: switching to WAL takes a lock another connection may hold (one
      // closing checkpoints), and a binding without a default timeout (bun:sqlite) would fail at once.
      this.raw.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
      this.raw.exec("PRAGMA journal_mode = WAL");
      this.raw.exec("PRAGMA synchronous = FULL");
      this.raw.exec("PRAGMA foreign_keys = ON");
    } catch (error) {
      this.raw.close();
      throw error;
    }
  }

  get open(): boolean {
    return this.raw.open;
  }

  get inTransaction(): boolean {
    return this.raw.open && this.raw.inTransaction;
  }

  /**
   * Prepares (or reuses) a statement. A statement SQLite cannot prepare never ran, so the failure is
   * reported as `not_committed` with the driver's error as its cause.
   */
  prepare(sql: string): RawSqliteStatement {
    const cached = this.#statements.get(sql);
    if (cached !== undefined) {
      // Marked rather than moved to the end of the map: eviction gives a used statement a second
      // chance, which keeps the hit path to one lookup.
      cached.used = true;
      return cached.statement;
    }
    let statement: RawSqliteStatement;
    try {
      statement = this.raw.prepare(sql);
    } catch (error) {
      throw new StoreError(
        "not_committed",
        `SQLite could not prepare the statement: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    if (this.#statements.size >= STATEMENT_CACHE_SIZE) this.#evict();
    this.#statements.set(sql, { statement, used: false });
    return statement;
  }

  /** Drops the oldest statement not used since it was last passed over (second-chance LRU). */
  #evict(): void {
    for (const [sql, entry] of this.#statements) {
      this.#statements.delete(sql);
      if (!entry.used) return;
      entry.used = false;
      this.#statements.set(sql, entry);
    }
  }

  exec(sql: string): void {
    this.raw.exec(sql);
  }

  /** Runs one of lockstep's own transaction control statements; throws as `exec` would. */
  control(sql: ControlStatement): void {
    let statement = this.#control.get(sql);
    if (statement === undefined) {
      statement = this.raw.prepare(sql);
      this.#control.set(sql, statement);
    }
    statement.run();
  }

  close(): void {
    this.#statements.clear();
    this.#control.clear();
    if (this.raw.open) this.raw.close();
  }

  /** This connection as {@link SyncSql}, with no checks of its own. */
  sync(): SyncSql {
    return {
      run: (sql, params) => execute(this.prepare(sql), params, "run") as SqliteRunResult,
      get: <T>(sql: string, params?: readonly unknown[]) =>
        execute(this.prepare(sql), params, "get") as T | undefined,
      all: <T>(sql: string, params?: readonly unknown[]) =>
        execute(this.prepare(sql), params, "all") as T[],
      exec: (sql) => this.exec(sql),
    };
  }
}

interface CachedStatement {
  readonly statement: RawSqliteStatement;
  used: boolean;
}

/** Runs a prepared statement in the wanted mode. */
export function execute(
  statement: RawSqliteStatement,
  params: readonly unknown[] | undefined,
  mode: StatementMode,
): unknown {
  const args = params ?? [];
  // The binding's own result, `{ changes, lastInsertRowid }`, is fresh per call.
  if (mode === "run") return statement.run(...args);
  if (mode === "auto") return statement.reader ? statement.all(...args) : statement.run(...args);
  if (!statement.reader) {
    throw new StoreError(
      "not_committed",
      `\`${mode}\` needs a statement that returns rows; use \`run\` for ${JSON.stringify(statement.source.trim().slice(0, 40))}.`,
    );
  }
  if (mode === "get") return statement.get(...args);
  if (mode === "all") return statement.all(...args);
  // Statements are cached and shared, so array mode is switched off again before anyone else runs one.
  statement.raw(true);
  try {
    return mode === "raw-get" ? statement.get(...args) : statement.all(...args);
  } finally {
    statement.raw(false);
  }
}
