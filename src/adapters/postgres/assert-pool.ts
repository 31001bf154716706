import type { Pool } from "pg";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import { describeInstance } from "../sql/unsupported-dialect.js";

/** Refuses anything that is not a `pg.Pool` (a single `Client` cannot give each transaction its own connection). */
export function assertPool(pool: unknown, argument = "pool"): asserts pool is Pool {
  const candidate = pool as { connect?: unknown; query?: unknown; totalCount?: unknown } | null;
  if (
    typeof candidate !== "object" ||
    candidate === null ||
    typeof candidate.connect !== "function" ||
    typeof candidate.query !== "function" ||
    typeof candidate.totalCount !== "number"
  ) {
    throw new LockstepDefinitionError(
      `Expected \`${argument}\` to be a pg.Pool (a single Client cannot give each transaction a connection of its own), got ${describeInstance(pool)}.`,
    );
  }
}
