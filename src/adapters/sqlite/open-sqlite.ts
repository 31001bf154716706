import { betterSqlite3Driver } from "./better-sqlite3-driver.js";
import { openDatabase, type SqliteDatabase, type SqliteOptions } from "./database.js";

export type { SqliteDatabase, SqliteOptions } from "./database.js";

/**
 * Opens a SQLite database file through better-sqlite3 (created if missing, unless `fileMustExist`),
 * or `":memory:"`. better-sqlite3 is a Node addon; on Bun use `openSqlite` from `lockstep/bun-sqlite`.
 *
 * Every connection gets `journal_mode = WAL`, `synchronous = FULL`, `foreign_keys = ON` and the
 * configured `busy_timeout`. A file database has a reader connection for the root handle's reads and
 * a writer connection that transactions and writes take turns on, through one async write gate that
 * every `SqliteDatabase` opened on the same file in this process shares. lockstep creates no file
 * besides the database (and SQLite's own `-wal` and `-shm` files).
 *
 * @example
 * ```ts
 * const db = openSqlite("./data/app.db");
 * const store = sqliteStore(db);
 * const log = sqliteSagaLog(db);
 * // …
 * db.close();
 * ```
 */
export function openSqlite(path: string, options: SqliteOptions = {}): SqliteDatabase {
  return openDatabase(betterSqlite3Driver, path, options);
}
