import { abortWatchOf, type CallScope } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import type { StepCall } from "../../core/store.js";
import { describeValue } from "../../core/validate.js";
import type { BatchItem, BatchSql, StatementResult } from "./batch-sql.js";

/**
 * A prepared write for a batch store (D1, libSQL): one statement and its parameters. A guard
 * belongs in the statement (`UPDATE … WHERE version = ?`); mark such a write `guarded`, and a batch
 * holding it applies nothing unless it changes at least one row.
 */
export interface BatchWrite {
  /** One SQL statement. */
  readonly sql: string;
  /** Its positional parameters (`?`). @default [] */
  readonly params?: readonly unknown[];
  /**
   * Whether the statement carries its own precondition, so that changing no row means another
   * writer got there first: in a batch, the whole batch then applies nothing and fails as a
   * `conflict` naming the write's index. @default false
   */
  readonly guarded?: boolean;
}

/** What a {@link BatchWrite} (or any statement) came to. */
export type BatchWriteResult = StatementResult;

/**
 * How step code reads and writes a batch store. Reads see committed data. Through a step call's
 * handle, every call carries the saga's fencing token (see the store's `fence`).
 */
export interface BatchHandle {
  /** Runs a query and returns its rows. */
  all<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs a query and returns its first row, or `undefined`. */
  first<T = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<T | undefined>;
  /** Runs one statement. */
  run(sql: string, params?: readonly unknown[]): Promise<BatchWriteResult>;
  /**
   * Applies writes all-or-nothing, results by position. A `guarded` write that changes no row
   * fails the batch as a `conflict` whose `index` names it; nothing applies.
   */
  batch(writes: readonly BatchWrite[]): Promise<BatchWriteResult[]>;
}

/** Checks a write handed to a batch; refuses anything else by position and value. */
export function checkWrite(write: unknown, index: number): BatchWrite {
  const sql = (write as { sql?: unknown } | null)?.sql;
  const params = (write as { params?: unknown } | null)?.params;
  if (typeof write !== "object" || write === null || typeof sql !== "string" || sql.trim() === "") {
    throw new StoreError(
      "not_committed",
      `Expected write ${index} of the batch to be a statement ({ sql: string, params?: unknown[] }), got ${describeValue(write)}; nothing was sent.`,
      { index },
    );
  }
  if (params !== undefined && !Array.isArray(params)) {
    throw new StoreError(
      "not_committed",
      `Expected \`params\` of write ${index} of the batch to be an array, got ${describeValue(params)}; nothing was sent.`,
      { index },
    );
  }
  return write as BatchWrite;
}

/** A batch's items for writes: each statement, followed by a `"changed"` check when guarded. */
export function writeItems(writes: readonly unknown[]): BatchItem[] {
  const items: BatchItem[] = [];
  writes.forEach((raw, index) => {
    const write = checkWrite(raw, index);
    items.push({ sql: write.sql, params: write.params ?? [] });
    if (write.guarded === true) {
      items.push({
        check: "changed",
        lost: async () =>
          new StoreError(
            "conflict",
            `Guarded write ${index} of the batch changed no row: another writer got there first; nothing was applied.`,
            { index },
          ),
      });
    }
  });
  return items;
}

/** Refuses a call whose scope has already been aborted: nothing was sent. */
export function refuseIfAborted(scope: CallScope | undefined): void {
  if (scope === undefined) return;
  const abort = abortWatchOf(scope);
  if (abort.aborted) {
    throw new StoreError("not_committed", "The call was aborted before it was sent.", {
      cause: abort.reason,
    });
  }
}

/** A handle that sends every call through `sql` at once. */
export function rootBatchHandle(sql: BatchSql, scope?: CallScope): BatchHandle {
  return Object.freeze({
    all: async <T>(text: string, params?: readonly unknown[]) => {
      refuseIfAborted(scope);
      return sql.all<T>(text, params);
    },
    first: async <T>(text: string, params?: readonly unknown[]) => {
      refuseIfAborted(scope);
      return (await sql.all<T>(text, params))[0];
    },
    run: async (text: string, params?: readonly unknown[]) => {
      refuseIfAborted(scope);
      return sql.run(text, params);
    },
    batch: async (writes: readonly BatchWrite[]) => {
      const items = writeItems(writes);
      refuseIfAborted(scope);
      return sql.batch(items);
    },
  });
}

/**
 * A step call's handle on a store that fences by token: each call is one batch that first raises
 * the saga's bar in `fenceTable` to the call's token (never lowering it) and, for a write, checks
 * that no higher token was seen, so a late write of an abandoned attempt applies nothing.
 */
export function fencedBatchHandle(
  sql: BatchSql,
  fenceTable: string,
  call: StepCall,
  scope: CallScope,
): BatchHandle {
  const raise = {
    sql: `INSERT INTO ${fenceTable} (saga_id, token) VALUES (?, ?)
       ON CONFLICT (saga_id) DO UPDATE SET token = max(token, excluded.token)`,
    params: [call.sagaId, call.fencingToken],
  };
  const current: BatchItem = {
    check: "exists",
    sql: `SELECT 1 FROM ${fenceTable} WHERE saga_id = ? AND token = ?`,
    params: [call.sagaId, call.fencingToken],
    lost: async () =>
      new StoreError(
        "not_committed",
        `The write of step "${call.step}" of saga "${call.sagaId}" carries fencing token ${call.fencingToken}, but a newer attempt has run since; it was refused and nothing was applied.`,
      ),
  };
  const read = async <T>(text: string, params?: readonly unknown[]) => {
    refuseIfAborted(scope);
    const [, rows] = await sql.batch([raise, { sql: text, params: params ?? [] }]);
    return (rows?.rows ?? []) as T[];
  };
  return Object.freeze({
    all: read,
    first: async <T>(text: string, params?: readonly unknown[]) => (await read<T>(text, params))[0],
    run: async (text: string, params?: readonly unknown[]) => {
      refuseIfAborted(scope);
      const [, result] = await sql.batch([raise, current, { sql: text, params: params ?? [] }]);
      return result as StatementResult;
    },
    batch: async (writes: readonly BatchWrite[]) => {
      const items = writeItems(writes);
      refuseIfAborted(scope);
      const [, ...results] = await sql.batch([raise, current, ...items]);
      return results;
    },
  });
}
