import { openDatabase, type SqliteDatabase, type SqliteOptions } from "../sqlite/database.js";
import { assertBunSqlite, bunSqliteDriver } from "./bun-sqlite-driver.js";

/**
 * Opens a SQLite database file through Bun's built-in `bun:sqlite` (created if missing, unless
 * `fileMustExist`), or `":memory:"`. The database is the same as `lockstep/sqlite`'s: the same
 * pragmas (`journal_mode = WAL`, `synchronous = FULL`, `foreign_keys = ON`, `busy_timeout`), a
 * reader connection beside one writer connection that transactions take turns on through the
 * file's write gate, co-commit of a step's writes with its log record, leases and fencing tokens.
 * Pass it to `sqliteStore` and `sqliteSagaLog` from this module.
 *
 * Outside Bun it throws a `LockstepRuntimeError` naming the requirement; the module itself loads
 * anywhere.
 *
 * @example
 * ```ts
 * import { openSqlite, sqliteSagaLog, sqliteStore } from "lockstep/bun-sqlite";
 *
 * const db = openSqlite("./data/grove.db");
 * const store = sqliteStore(db);
 * const log = sqliteSagaLog(db);
 * // …
 * db.close();
 * ```
 */
export function openSqlite(path: string, options: SqliteOptions = {}): SqliteDatabase {
  assertBunSqlite();
  return openDatabase(bunSqliteDriver, path, options);
}
