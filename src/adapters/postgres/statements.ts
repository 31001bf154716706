import type { QueryConfig, QueryResult } from "pg";
import type { PostgresQueryResult } from "./postgres-handle.js";

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
