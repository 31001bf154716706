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

/** An `"inserted"` check: an insert that fails on its unique key when the check does not hold. */
type InsertedCheck = Extract<BatchCheck, { readonly check: "inserted" }>;

/** A batch lowered to plain statements, with where each check and each result came from. */
export interface CompiledBatch {
  /** The statements to send, checks included. */
  readonly statements: readonly SqlStatement[];
  /** The check behind each guard column, by the column's number. */
  readonly checks: readonly { readonly item: number; readonly check: BatchCheck }[];
  /** The `"inserted"` checks, which need no guard column: their own insert fails. */
  readonly inserts: readonly { readonly item: number; readonly check: InsertedCheck }[];
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
  const inserts: { item: number; check: InsertedCheck }[] = [];
  const origin: number[] = [];
  items.forEach((item, position) => {
    if (!isCheck(item)) {
      statements.push(item);
      origin.push(position);
      return;
    }
    if (item.check === "inserted") {
      inserts.push({ item: position, check: item });
      origin.push(-1);
      statements.push({ sql: item.sql, params: item.params ?? [] });
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
  return { statements, checks, inserts, origin };
}

/**
 * The number of the guard column whose check failed, read from the error (or an error in its
 * `.cause` chain), or `undefined` when the batch failed for another reason.
 */
export function failedCheck(table: string, error: unknown): number | undefined {
  const pattern = new RegExp(`NOT NULL constraint failed: ${table}\\.g(\\d+)\\b`);
  for (const message of messagesOf(error)) {
    const match = pattern.exec(message);
    if (match !== null) return Number(match[1]);
  }
  return undefined;
}

/**
 * The first of `inserts` whose unique key the error (or an error in its `.cause` chain) names as
 * violated, or `undefined` when the batch failed for another reason.
 */
function failedInsert<T extends { readonly check: InsertedCheck }>(
  inserts: readonly T[],
  error: unknown,
): T | undefined {
  if (inserts.length === 0) return undefined;
  const messages = messagesOf(error);
  return inserts.find(({ check }) => {
    const violated = `UNIQUE constraint failed: ${check.key}`;
    return messages.some((message) => {
      const at = message.indexOf(violated);
      // The key whole, not the start of a longer name (`saga_id2`) or of a qualified one.
      return at >= 0 && !/^[\w.]/.test(message.slice(at + violated.length));
    });
  });
}

/** The messages of an error and of the errors in its `.cause` chain. */
function messagesOf(error: unknown): string[] {
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    const message = (current as { message?: unknown }).message;
    if (typeof message === "string") messages.push(message);
    current = (current as { cause?: unknown }).cause;
  }
  return messages;
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
    const lost =
      (column === undefined ? undefined : compiled.checks[column]) ??
      failedInsert(compiled.inserts, error);
    if (lost === undefined) throw error;
    if (lost.check.lost !== undefined) throw await lost.check.lost();
    throw onLost(lost.item, error);
  }
  return results.filter((_, i) => compiled.origin[i] !== -1);
}
