import { type ErrorKind, ErrorKind as Kind } from "../../model/error-kind.js";
import { classifySqliteError } from "../sqlite/classify-sqlite-error.js";

/**
 * Recognizes `@libsql/client` errors (`LibsqlError`, whose `code` is SQLite's result code or the
 * client's own), as a store's `classifyError`: SQLite's codes as {@link classifySqliteError} reads
 * them (`SQLITE_CONSTRAINT*` is `not_committed`, `SQLITE_BUSY*` `transient`, …), plus
 * `SQLITE_ERROR` (a statement SQLite could not prepare or run: nothing of its batch or
 * transaction is kept) as `not_committed`. Anything else — a lost connection, an HTTP or Hrana
 * error of a remote server — is left unrecognized, so the core treats it as `unknown`.
 */
export function classifyLibsqlError(error: unknown): ErrorKind | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "SQLITE_ERROR") return Kind.NotCommitted;
  return classifySqliteError(error);
}
