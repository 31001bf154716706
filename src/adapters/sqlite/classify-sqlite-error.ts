import { type ErrorKind, ErrorKind as Kind } from "../../model/error-kind.js";

/** The SQLite result code of a better-sqlite3 or `bun:sqlite` error (e.g. `"SQLITE_CONSTRAINT_UNIQUE"`). */
export function sqliteCodeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("SQLITE_") ? code : undefined;
}

/**
 * Recognizes better-sqlite3 and `bun:sqlite` errors by their SQLite result code, as a store's `classifyError`:
 *
 * - `SQLITE_CONSTRAINT*` is `not_committed`: SQLite refused the statement, nothing of it applied;
 * - `SQLITE_BUSY*` and `SQLITE_LOCKED*` are `transient`: the lock was not obtained, a retry may work;
 * - `SQLITE_IOERR*` and `SQLITE_FULL` are `unknown`: the disk failed and the write may have landed;
 * - anything else is left unrecognized (`undefined`), so the core treats it as `unknown`.
 *
 * The core walks `.cause` chains, so a `SqliteError` wrapped in another error is still recognized.
 *
 * @example
 * ```ts
 * classifyError(new Error("insert failed", { cause: sqliteError }), classifySqliteError);
 * // "not_committed" for a UNIQUE violation
 * ```
 */
export function classifySqliteError(error: unknown): ErrorKind | undefined {
  const code = sqliteCodeOf(error);
  if (code === undefined) return undefined;
  if (code.startsWith("SQLITE_CONSTRAINT")) return Kind.NotCommitted;
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return Kind.Transient;
  if (code.startsWith("SQLITE_IOERR") || code === "SQLITE_FULL") return Kind.Unknown;
  return undefined;
}
