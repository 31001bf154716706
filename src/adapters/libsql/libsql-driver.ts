import type { SqlStatement, StatementResult } from "../sql/batch-sql.js";
import type { BatchDriver } from "../sql/guarded-batch-sql.js";

/** The part of an `@libsql/client` result set lockstep reads. */
export interface LibsqlResultLike {
  readonly columns: readonly string[];
  readonly rows: readonly ArrayLike<unknown>[];
  readonly rowsAffected: number;
  readonly lastInsertRowid?: bigint | number | undefined;
}

/** A value `@libsql/client` binds to a parameter. */
export type LibsqlValue =
  | null
  | string
  | number
  | bigint
  | ArrayBuffer
  | boolean
  | Uint8Array
  | Date;

/** A statement as `@libsql/client` takes it. */
export interface LibsqlStatementLike {
  readonly sql: string;
  readonly args: LibsqlValue[];
}

/**
 * What lockstep uses of an `@libsql/client` `Client` or `Transaction`: `execute` and `batch`. A
 * structural type, so the adapter's types do not depend on the driver's.
 */
export interface LibsqlExecutor {
  execute(statement: LibsqlStatementLike): Promise<LibsqlResultLike>;
  batch(
    statements: LibsqlStatementLike[],
    mode?: "write" | "read" | "deferred",
  ): Promise<LibsqlResultLike[]>;
}

const RETURNING = /\bRETURNING\b/i;

/** A libSQL result as a plain one: rows as objects keyed by column. */
export function resultOf(sql: string, result: LibsqlResultLike): StatementResult {
  const rows = result.rows.map((row) =>
    Object.fromEntries(result.columns.map((column, i) => [column, row[i]])),
  );
  // libSQL reports no affected rows for a write with RETURNING; its returned rows are those it wrote.
  const changes = RETURNING.test(sql)
    ? Math.max(result.rowsAffected, rows.length)
    : result.rowsAffected;
  const id = result.lastInsertRowid;
  return { rows, changes, lastRowId: id === undefined ? undefined : Number(id) };
}

/** A statement as `@libsql/client` takes it. */
export const libsqlStatement = (s: SqlStatement): LibsqlStatementLike => ({
  sql: s.sql,
  args: [...(s.params ?? [])] as LibsqlValue[],
});

/**
 * The batch driver over a libSQL client (whose `batch` runs in one write transaction) or one of its
 * interactive transactions (whose `batch` runs inside it).
 */
export function libsqlDriver(target: LibsqlExecutor, inTransaction: boolean): BatchDriver {
  return {
    all: async <T>(sql: string, params: readonly unknown[]) =>
      resultOf(sql, await target.execute({ sql, args: [...params] as LibsqlValue[] })).rows as T[],
    run: async (sql, params) =>
      resultOf(sql, await target.execute({ sql, args: [...params] as LibsqlValue[] })),
    send: async (statements) => {
      const results = inTransaction
        ? await target.batch(statements.map(libsqlStatement))
        : await target.batch(statements.map(libsqlStatement), "write");
      return results.map((result, i) => resultOf(statements[i]?.sql ?? "", result));
    },
  };
}
