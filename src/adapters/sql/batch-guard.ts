import { StoreError } from "../../core/error-kinds.js";
import { type BatchCheck, type BatchItem, isCheck, type SqlStatement } from "./batch-sql.js";

/**
 * How many checks one batch can hold: the guard table has a column per check, so that the error of
 * a check that fails names which one it was (D1 allows at most 100 columns in a table).
 */
export const MAX_CHECKS = 64;

const TABLE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * The guard table's DDL. It never holds a row: a check inserts one only when its condition fails,
 * and the row's `NULL` in the check's `NOT NULL` column makes that insert fail, which rolls the
 * batch back (D1 and libSQL batches are transactions that roll back when any statement errors).
 * SQLite names the column in the error, and the column names the check.
 */
export function guardTableDdl(table: string): string {
  if (!TABLE.test(table)) {
    throw new TypeError(
      `Expected a guard table name of letters, digits and underscores, got ${JSON.stringify(table)}.`,
    );
  }
  const columns = Array.from({ length: MAX_CHECKS }, (_, i) => `g${i} INTEGER NOT NULL DEFAULT 0`);
  return `CREATE TABLE IF NOT EXISTS ${table} (${columns.join(", ")})`;
}

/** A batch lowered to plain statements, with where each check and each result came from. */
export interface CompiledBatch {
  /** The statements to send, checks included. */
  readonly statements: readonly SqlStatement[];
  /** The check behind each guard column, by the column's number. */
  readonly checks: readonly { readonly item: number; readonly check: BatchCheck }[];
  /** For each sent statement, the position of its item, or `-1` for a check. */
  readonly origin: readonly number[];
}

/**
 * Lowers a batch's items to statements: each check becomes an insert into the guard table that
 * selects a row only when the check does not hold. A `"changed"` check reads `changes()`, which is
 * the count of the statement just before it (both run on the batch's one connection, in order).
 */
export function compileBatch(table: string, items: readonly BatchItem[]): CompiledBatch {
  const statements: SqlStatement[] = [];
  const checks: { item: number; check: BatchCheck }[] = [];
  const origin: number[] = [];
  items.forEach((item, position) => {
    if (!isCheck(item)) {
      statements.push(item);
      origin.push(position);
      return;
    }
    if (checks.length >= MAX_CHECKS) {
      throw new StoreError(
        "not_committed",
        `A batch can hold at most ${MAX_CHECKS} checks (guarded writes and fencing checks), got more; nothing was sent.`,
      );
    }
    const column = `g${checks.length}`;
    checks.push({ item: position, check: item });
    origin.push(-1);
    statements.push(
      item.check === "changed"
        ? { sql: `INSERT INTO ${table} (${column}) SELECT NULL WHERE changes() = 0` }
        : {
            sql: `INSERT INTO ${table} (${column}) SELECT NULL WHERE NOT EXISTS (${item.sql})`,
            params: item.params ?? [],
          },
    );
  });
  return { statements, checks, origin };
}

/**
 * The number of the guard column whose check failed, read from the error (or an error in its
 * `.cause` chain), or `undefined` when the batch failed for another reason.
 */
export function failedCheck(table: string, error: unknown): number | undefined {
  const pattern = new RegExp(`NOT NULL constraint failed: ${table}\\.g(\\d+)\\b`);
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    const message = (current as { message?: unknown }).message;
    const match = typeof message === "string" ? pattern.exec(message) : null;
    if (match !== null) return Number(match[1]);
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Sends a compiled batch through `send` and returns the results of the items that are statements,
 * by their positions among the statements. When a check fails, the batch rejects with what its
 * `lost` says, or with `onLost(item)`'s error.
 */
export async function runBatch<R>(
  table: string,
  items: readonly BatchItem[],
  send: (statements: readonly SqlStatement[]) => Promise<readonly R[]>,
  onLost: (item: number, cause: unknown) => Error,
): Promise<R[]> {
  const compiled = compileBatch(table, items);
  let results: readonly R[];
  try {
    results = await send(compiled.statements);
  } catch (error) {
    const column = failedCheck(table, error);
    const lost = column === undefined ? undefined : compiled.checks[column];
    if (lost === undefined) throw error;
    if (lost.check.lost !== undefined) throw await lost.check.lost();
    throw onLost(lost.item, error);
  }
  return results.filter((_, i) => compiled.origin[i] !== -1);
}
