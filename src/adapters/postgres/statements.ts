import type { QueryConfig, QueryResult } from "pg";
import { StoreError } from "../../core/error-kinds.js";
import { messageOf } from "../../core/message-of.js";
import type { PostgresQueryResult } from "./postgres-handle.js";

// A guard, not a parser: it catches the plain spellings that would start, end or nest a transaction
// behind lockstep's back (or leave a pooled connection inside one).
const TRANSACTION_CONTROL =
  /^\s*(?:BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|PREPARE\s+TRANSACTION)\b/i;

/** Refuses statements that would start or end a transaction outside lockstep's control. */
export function refuseTransactionControl(sql: string): void {
  if (typeof sql !== "string") {
    throw new StoreError(
      "not_committed",
      `Expected the statement to be a string, got ${typeof sql}; nothing was sent.`,
    );
  }
  if (TRANSACTION_CONTROL.test(sql)) {
    throw new StoreError(
      "not_committed",
      `Transaction control statements cannot run through a lockstep Postgres handle, got ${JSON.stringify(sql.trim().slice(0, 40))}; use store.transaction(...) and tx.savepoint(...) instead.`,
    );
  }
}

/** `pg`'s result (one, or one per statement of a multi-statement string) in the handle's shape. */
export function normalizeResult<T>(result: QueryResult | QueryResult[]): PostgresQueryResult<T> {
  if (Array.isArray(result)) {
    const last = result.at(-1);
    return {
      rows: (last?.rows ?? []) as T[],
      rowCount: result.reduce((sum, each) => sum + (each.rowCount ?? 0), 0),
    };
  }
  return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
}

/**
 * A statement as `pg` takes it. Without parameters `pg` uses the simple query protocol, which also
 * runs a string of several statements.
 */
export function queryConfig(sql: string, params: readonly unknown[] | undefined): QueryConfig {
  return params === undefined ? { text: sql } : { text: sql, values: [...params] };
}

export { messageOf };
