import type { MysqlQueryResult } from "./mysql-handle.js";

/** What `mysql2`'s promise API answers one statement with: `[rows, fields]` or `[header, undefined]`. */
export type MysqlRaw = readonly [unknown, unknown];

interface ResultHeader {
  readonly affectedRows?: number;
  readonly insertId?: number;
  readonly info?: string;
}

const MATCHED = /Rows matched:\s*(\d+)/;

/**
 * `mysql2`'s answer in the handle's shape. An `UPDATE`'s count is the rows it matched, read from the
 * server's info line, so it does not depend on the connection's `FOUND_ROWS` flag.
 */
export function normalizeResult<T>(raw: MysqlRaw): MysqlQueryResult<T> {
  const [result] = raw;
  if (Array.isArray(result)) return { rows: result as T[], rowCount: result.length, insertId: 0 };
  const header = (result ?? {}) as ResultHeader;
  const matched = typeof header.info === "string" ? MATCHED.exec(header.info) : null;
  return {
    rows: [],
    rowCount: matched?.[1] !== undefined ? Number(matched[1]) : (header.affectedRows ?? 0),
    insertId: Number(header.insertId ?? 0),
  };
}

/** The parameters as `mysql2` takes them: a fresh array, or none. */
export function paramsOf(params: readonly unknown[] | undefined): unknown[] | undefined {
  return params === undefined ? undefined : [...params];
}

/**
 * What `mysql2` takes beside a statement's text and values: an ORM's row shape (`rowsAsArray`) and
 * value parsing (`typeCast`), passed through unchanged.
 */
export interface MysqlDriverOptions {
  readonly rowsAsArray?: boolean;
  readonly typeCast?: unknown;
}

/** One statement as `mysql2`'s `query` takes it: the text alone, or a config with driver options. */
export function queryConfigOf(
  sql: string,
  options: MysqlDriverOptions | undefined,
): string | object {
  return options === undefined ? sql : { ...options, sql };
}
