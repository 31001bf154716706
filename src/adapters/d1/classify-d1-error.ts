import { type ErrorKind, ErrorKind as Kind } from "../../model/error-kind.js";

/** SQLite result codes D1 reports when SQLite refused a statement: nothing of its batch applied. */
const REFUSED = /\bSQLITE_(?:CONSTRAINT|ERROR|MISMATCH|RANGE|TOOBIG|AUTH)\b/;

/**
 * Recognizes Cloudflare D1 errors by their message, as a store's `classifyError`:
 *
 * - a SQLite refusal (`SQLITE_CONSTRAINT`, a statement SQLite could not prepare: `SQLITE_ERROR`,
 *   `SQLITE_MISMATCH`, …) and `D1_TYPE_ERROR` (a parameter D1 cannot bind) are `not_committed`: D1
 *   runs a batch as one transaction, and a statement that fails rolls all of it back;
 * - `SQLITE_BUSY` is `transient`;
 * - anything else — "Network connection lost", an internal error, "D1_ERROR" without a SQLite
 *   refusal, a storage reset or timeout — is left unrecognized, so the core treats it as `unknown`:
 *   the batch may have been applied.
 *
 * @example
 * ```ts
 * classifyD1Error(new Error("D1_ERROR: UNIQUE constraint failed: t.k: SQLITE_CONSTRAINT")); // "not_committed"
 * ```
 */
export function classifyD1Error(error: unknown): ErrorKind | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const message = (error as { message?: unknown }).message;
  if (typeof message !== "string") return undefined;
  if (/^D1_TYPE_ERROR\b/.test(message)) return Kind.NotCommitted;
  if (/\bSQLITE_BUSY\b/.test(message)) return Kind.Transient;
  if (REFUSED.test(message) && !/network connection lost|internal error|reset/i.test(message)) {
    return Kind.NotCommitted;
  }
  return undefined;
}
