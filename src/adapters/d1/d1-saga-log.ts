import { type BatchSagaLog, batchSagaLog } from "../sql/batch-saga-log.js";
import { coCommitStoreId } from "../sql/co-commit-store.js";
import { assertTablePrefix } from "../sql/saga-log-tables.js";
import { sqliteDialect } from "../sqlite/sqlite-dialect.js";
import { assertD1Binding, type D1DatabaseLike } from "./d1-binding.js";
import { d1SqlOf } from "./d1-store.js";

/** Options of {@link d1SagaLog}. */
export interface D1SagaLogOptions {
  /**
   * Prepended to the log's tables (`<prefix>sagas`, `<prefix>saga_entries`) and to the batch
   * store's own tables on the same database. Letters, digits and underscores. @default "lockstep_"
   */
  readonly tablePrefix?: string;
  /**
   * The `d1Store` on the same binding whose batches this log's records may ride in (batch
   * co-commit).
   */
  readonly store?: { readonly id: string };
  /** The logical id of that store, as it was given it (`d1Store(env.DB, { id: "orders-d1" })`). */
  readonly coCommitWith?: string;
}

/** A saga log stored in D1, able to append its records to a `d1Store`'s deferred batch. */
export type D1SagaLog = BatchSagaLog;

/**
 * Opens the saga log on a Cloudflare D1 binding, creating its tables on first use (`CREATE TABLE
 * IF NOT EXISTS`, in one batch).
 *
 * D1 has no transactions to hold a row locked, so a write is optimistic: it reads the saga's row,
 * checks the fencing token and the expected status with the log's write rules, and applies the
 * change in one batch whose first statement is a check that the row is still exactly as read; if
 * anything moved, the batch applies nothing, and the write is refused as `stale_token` when the
 * token moved on, or planned again otherwise. Leases and recovery claims are single compare-and-set
 * statements on the indexed columns.
 *
 * Declared to co-commit with a `d1Store` on the same binding (`coCommitWith`), a saga step on that
 * store is applied in one batch with its log records and that check, so the step has no in-doubt
 * window: explain reports it as `batch_co_committed`.
 *
 * @example
 * ```ts
 * const orders = d1Store(env.DB, { id: "orders-d1" });
 * const runner = createRunner({ log: d1SagaLog(env.DB, { store: orders }) });
 * ```
 */
export function d1SagaLog(binding: D1DatabaseLike, options: D1SagaLogOptions = {}): D1SagaLog {
  assertD1Binding(binding);
  const prefix = options.tablePrefix ?? "lockstep_";
  assertTablePrefix(prefix);
  const sql = d1SqlOf(binding, prefix);
  const storeId = coCommitStoreId(options, () => "d1");
  return batchSagaLog({
    dialect: Object.freeze({ ...sqliteDialect, name: "D1" }),
    sql,
    storeId,
    database: sql,
    handleOrigin: "d1Store(binding).deferredBatch",
    tablePrefix: prefix,
  });
}
