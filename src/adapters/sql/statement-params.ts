import type { SqlDialect } from "./sql-dialect.js";

/** The parameters of one statement being built, each added where its placeholder goes. */
export interface StatementParams {
  readonly params: unknown[];
  /** Appends `value` and returns its placeholder (`?`, or `$n` numbered after those before it). */
  add(value: unknown): string;
  /** The statement `sql` with the parameters added so far. */
  statement(sql: string): { readonly sql: string; readonly params: unknown[] };
}

/** Starts the parameters of a statement in `dialect`. */
export function statementParams(dialect: SqlDialect): StatementParams {
  const params: unknown[] = [];
  return {
    params,
    add: (value: unknown) => {
      params.push(value);
      return dialect.placeholder(params.length);
    },
    statement: (sql: string) => ({ sql, params }),
  };
}
