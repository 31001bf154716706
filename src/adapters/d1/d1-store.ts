import type { CallScope } from "../../core/deadline.js";
import { defineStore, type WriteStore } from "../../core/store.js";
import { assertName } from "../../core/validate.js";
import {
  type BatchHandle,
  type BatchWrite,
  type BatchWriteResult,
  checkWrite,
  fencedBatchHandle,
  refuseIfAborted,
  rootBatchHandle,
} from "../sql/batch-handle.js";
import { runDeferredBatch } from "../sql/deferred-batch.js";
import { batchTables, GuardedBatchSql } from "../sql/guarded-batch-sql.js";
import { assertTablePrefix } from "../sql/saga-log-tables.js";
import { classifyD1Error } from "./classify-d1-error.js";
import { assertD1Binding, type D1DatabaseLike, d1Driver } from "./d1-binding.js";

/** How step code reads and writes a D1 store; see {@link BatchHandle}. */
export type D1Handle = BatchHandle;
/**
 * A prepared write for a D1 store: one statement, its parameters, and whether it is `guarded` (it
 * must change a row, or its batch applies nothing and fails as a `conflict`).
 *
 * @example
 * ```ts
 * const claim: D1Write = {
 *   sql: "UPDATE bounties SET status = 'claimed', version = version + 1 WHERE id = ? AND version = ?",
 *   params: ["b-1", 3],
 *   guarded: true,
 * };
 * ```
 */
export type D1Write = BatchWrite;
/** What a {@link D1Write} came to. */
export type D1WriteResult = BatchWriteResult;

/**
 * A Cloudflare D1 store: atomic batches and guarded writes, no transactions (D1 has none).
 */
export interface D1Store extends WriteStore<D1Handle, D1Write, D1WriteResult> {
  /**
   * Applies writes all-or-nothing in one D1 `batch()`, results by position. A `guarded` write that
   * changes no row fails the batch as a `conflict` naming its index; D1 rolls the batch back, so
   * nothing applies.
   */
  readonly batch: (
    writes: readonly D1Write[],
    scope: CallScope,
  ) => Promise<readonly D1WriteResult[]>;
  /**
   * Runs `work` with a handle whose writes are queued and applied in one D1 batch when `work`
   * resolves; a saga step on the log's own D1 database co-commits its log records through it.
   */
  readonly deferredBatch: <T>(
    work: (batch: D1Handle) => Promise<T>,
    scope: CallScope,
  ) => Promise<T>;
}

/** Options of {@link d1Store}. */
export interface D1StoreOptions {
  /**
   * The store's logical identity, a name you choose for the database (`"orders-d1"`). A D1 binding
   * carries no identity of its own, so it is required. A `d1SagaLog` on the same database declares
   * it (`coCommitWith`) to co-commit its records in this store's batches.
   * @example `d1Store(env.DB, { id: "orders-d1" })`
   */
  readonly id: string;
  /**
   * Prepended to the store's own tables: `<prefix>batch_guard` (checks that make a batch apply
   * nothing; it never holds a row) and `<prefix>fence` (the highest fencing token per saga).
   * Letters, digits and underscores. @default "lockstep_"
   */
  readonly tablePrefix?: string;
  /**
   * Declares that the versions your guarded writes compare are never given to a key twice (a
   * counter a delete never resets, a random incarnation); see `StoreCapabilities.versionsNeverReused`.
   * The store cannot know this of your SQL, so it is yours to declare. @default false
   */
  readonly versionsNeverReused?: boolean;
}

/** The database behind a D1 binding: its SQL runner, shared by the stores and logs on it. */
const DATABASES = new WeakMap<object, { readonly sql: GuardedBatchSql; readonly prefix: string }>();

/** The one {@link GuardedBatchSql} of a binding and prefix, so a store and a log agree on it. */
export function d1SqlOf(binding: D1DatabaseLike, prefix: string): GuardedBatchSql {
  const known = DATABASES.get(binding);
  if (known !== undefined && known.prefix === prefix) return known.sql;
  const sql = new GuardedBatchSql(d1Driver(binding), batchTables(prefix), "D1", classifyD1Error);
  DATABASES.set(binding, { sql, prefix });
  return sql;
}

/**
 * Wraps a Cloudflare D1 binding (`env.DB`) as a lockstep store declaring `atomicBatch` and
 * `conditionalWrite`. D1 has no interactive transactions, so `runAtomic` applies its writes in one
 * `batch()`, and every precondition lives inside a write (`UPDATE … WHERE version = ?`, marked
 * `guarded`). Errors are classified by {@link classifyD1Error}.
 *
 * A D1 call cannot be cancelled, and one that timed out may still land; the store fences attempts
 * by token (`fence: { mode: "fence_token" }`): each call of a saga step is one batch that records
 * the saga's highest fencing token in `<prefix>fence` and, for a write, applies nothing when a
 * newer attempt has run since.
 *
 * @example
 * ```ts
 * export default {
 *   async fetch(_request: Request, env: { DB: D1DatabaseLike }) {
 *     const orders = d1Store(env.DB, { id: "orders-d1" });
 *     const runner = createRunner({ log: d1SagaLog(env.DB, { store: orders }) });
 *     return Response.json({ owner: runner.owner });
 *   },
 * };
 * ```
 */
export function d1Store(binding: D1DatabaseLike, options: D1StoreOptions): D1Store {
  assertD1Binding(binding);
  const id = (options as Partial<D1StoreOptions> | undefined)?.id;
  assertName("id", id);
  const prefix = options.tablePrefix ?? "lockstep_";
  assertTablePrefix(prefix);
  const sql = d1SqlOf(binding, prefix);
  const handle = rootBatchHandle(sql);
  const tables = batchTables(prefix);
  return defineStore<D1Handle, D1Write, D1WriteResult>({
    id,
    handle,
    handleFor: (scope, call) => fencedBatchHandle(sql, tables.fence, call, scope),
    capabilities: {
      atomicBatch: true,
      conditionalWrite: true,
      versionsNeverReused: options.versionsNeverReused ?? false,
    },
    fence: { mode: "fence_token" },
    batch: (writes, scope) => rootBatchHandle(sql, scope).batch(writes),
    deferredBatch: (work, scope) => runDeferredBatch(id, sql, sql, work, scope),
    // One statement: a guarded write that loses affects nothing, and runAtomic reads that.
    apply: async (target, write, scope) => {
      const checked = checkWrite(write, 0);
      refuseIfAborted(scope);
      return target.run(checked.sql, checked.params);
    },
    affected: (result) => result.changes,
    classifyError: classifyD1Error,
  }) as D1Store;
}
