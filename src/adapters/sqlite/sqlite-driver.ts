import type { SqliteRunResult } from "./sqlite-handle.js";

/**
 * One prepared statement, as an SQLite binding gives it: what lockstep's SQLite engine needs from
 * better-sqlite3's `Statement` and from `bun:sqlite`'s alike.
 */
export interface RawSqliteStatement {
  /** Whether the statement returns rows. */
  readonly reader: boolean;
  /** Whether the statement leaves the database unchanged, so a reader connection may run it. */
  readonly readonly: boolean;
  /** The SQL the statement was prepared from. */
  readonly source: string;
  run(...params: unknown[]): SqliteRunResult;
  /** The first row, or `undefined` when there is none. */
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  /** Switches `get` and `all` to rows as arrays of column values (on) or objects (off). */
  raw(on: boolean): unknown;
}

/** One connection to an SQLite database, as an SQLite binding gives it. */
export interface RawSqliteDatabase {
  readonly open: boolean;
  readonly inTransaction: boolean;
  prepare(sql: string): RawSqliteStatement;
  /** Runs several statements without parameters. */
  exec(sql: string): void;
  close(): void;
}

/**
 * An SQLite binding lockstep's engine runs on: it opens one connection to a file (or `":memory:"`).
 * The engine above it — write gate, WAL, transactions on their own connection, co-commit — is the
 * same for every binding.
 */
export interface SqliteDriver {
  /** The binding's name, for messages: `"better-sqlite3"`, `"bun:sqlite"`. */
  readonly name: string;
  open(path: string, fileMustExist: boolean): RawSqliteDatabase;
}
