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

function prepared(binding: D1DatabaseLike, statement: SqlStatement): D1StatementLike {
  const params = statement.params ?? [];
  const prepared = binding.prepare(statement.sql);
  return params.length === 0 ? prepared : prepared.bind(...params);
}

/** The batch driver over a D1 binding. */
export function d1Driver(binding: D1DatabaseLike): BatchDriver {
  return {
    all: async <T>(sql: string, params: readonly unknown[]) =>
      ((await prepared(binding, { sql, params }).all<T>()).results ?? []) as T[],
    run: async (sql, params) => resultOf(await prepared(binding, { sql, params }).run()),
    send: async (statements) => {
      const results = await binding.batch(statements.map((s) => prepared(binding, s)));
      return results.map(resultOf);
    },
  };
}
