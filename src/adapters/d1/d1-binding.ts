import { describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import type { SqlStatement, StatementResult } from "../sql/batch-sql.js";
import type { BatchDriver } from "../sql/guarded-batch-sql.js";

/**
 * The part of a Cloudflare D1 prepared statement lockstep uses: a structural type, so that no
 * Workers types package is needed. `D1PreparedStatement` from `@cloudflare/workers-types` fits.
 */
export interface D1StatementLike {
  bind(...values: unknown[]): D1StatementLike;
  all<T = Record<string, unknown>>(): Promise<D1ResultLike<T>>;
  run<T = Record<string, unknown>>(): Promise<D1ResultLike<T>>;
}

/** The part of a D1 result lockstep reads. */
export interface D1ResultLike<T = Record<string, unknown>> {
  readonly results?: T[];
  readonly meta?: { readonly changes?: number; readonly last_row_id?: number };
}

/**
 * The part of a Cloudflare D1 binding (`env.DB`, a `D1Database`) lockstep uses: `prepare` and
 * `batch`. D1 has no interactive transactions; a `batch` is applied as one transaction that rolls
 * back when any of its statements fails.
 */
export interface D1DatabaseLike {
  prepare(query: string): D1StatementLike;
  batch<T = Record<string, unknown>>(statements: D1StatementLike[]): Promise<D1ResultLike<T>[]>;
}

/** Refuses anything that is not a D1 binding, naming the value. */
export function assertD1Binding(
  binding: unknown,
  argument = "binding",
): asserts binding is D1DatabaseLike {
  const candidate = binding as { prepare?: unknown; batch?: unknown } | null;
  if (
    typeof binding !== "object" ||
    binding === null ||
    typeof candidate?.prepare !== "function" ||
    typeof candidate.batch !== "function"
  ) {
    throw new LockstepDefinitionError(
      `Expected \`${argument}\` to be a Cloudflare D1 database binding (an object with \`prepare\` and \`batch\` methods, e.g. \`env.DB\`), got ${describeValue(binding)}.`,
    );
  }
}

function resultOf(result: D1ResultLike): StatementResult {
  return {
    rows: result.results ?? [],
    changes: result.meta?.changes ?? 0,
    lastRowId: result.meta?.last_row_id,
  };
}

/** How many prepared statements a driver keeps for reuse, the most recently used. */
export const REUSED_STATEMENTS = 64;

/**
 * `binding.prepare`, reusing the statement prepared for the same SQL text. A D1 prepared statement
 * is immutable (`bind` returns a new one), so one can serve every call; preparing costs little in
 * workerd, but from Node through Miniflare every `prepare` is a round trip to workerd.
 */
function statementCache(binding: D1DatabaseLike): (sql: string) => D1StatementLike {
  const kept = new Map<string, D1StatementLike>();
  return (sql) => {
    let statement = kept.get(sql);
    if (statement !== undefined) {
      // Most recently used last, so the least recently used is the first to go.
      kept.delete(sql);
    } else {
      statement = binding.prepare(sql);
      if (kept.size >= REUSED_STATEMENTS) kept.delete(kept.keys().next().value as string);
    }
    kept.set(sql, statement);
    return statement;
  };
}

/** The batch driver over a D1 binding. */
export function d1Driver(binding: D1DatabaseLike): BatchDriver {
  const prepare = statementCache(binding);
  const prepared = (statement: SqlStatement): D1StatementLike => {
    const params = statement.params ?? [];
    const reused = prepare(statement.sql);
    return params.length === 0 ? reused : reused.bind(...params);
  };
  return {
    all: async <T>(sql: string, params: readonly unknown[]) =>
      ((await prepared({ sql, params }).all<T>()).results ?? []) as T[],
    run: async (sql, params) => resultOf(await prepared({ sql, params }).run()),
    send: async (statements) => {
      const results = await binding.batch(statements.map(prepared));
      return results.map(resultOf);
    },
  };
}
