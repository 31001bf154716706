import type { CallScope } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import { type BatchHandle, type BatchWrite, refuseIfAborted, writeItems } from "./batch-handle.js";
import type { BatchItem, BatchSql, StatementResult } from "./batch-sql.js";
import type { TransactionScope } from "./sql-transaction.js";

const SCOPE = Symbol.for("lockstep.batch.deferred-scope");

interface Queued {
  readonly from: number;
  readonly count: number;
  readonly resolve: (results: StatementResult[]) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * One batch being assembled: the writes of the steps it carries and the saga log's records and
 * fencing check, sent together as one atomic batch when the work that assembles it resolves. Its
 * handle reads committed data at once and queues every write; a queued write's promise settles
 * once the batch has been applied (or refused), so a step returns without awaiting it.
 */
export class DeferredBatch {
  /** The store the batch is for, as messages name it. */
  readonly storeId: string;
  /** Identifies the database, as a transaction's `database` does, for the saga log's co-commit. */
  readonly database: unknown;
  /** The handle a step writes through. */
  readonly handle: BatchHandle;
  readonly #root: BatchSql;
  readonly #items: BatchItem[] = [];
  readonly #queued: Queued[] = [];
  readonly #scope: TransactionScope<DeferredBatch> = { context: this, active: true };
  /** How many statements (items that are not checks) have been queued so far. */
  #statements = 0;

  constructor(storeId: string, database: unknown, root: BatchSql) {
    this.storeId = storeId;
    this.database = database;
    this.#root = root;
    const handle: BatchHandle = {
      all: (sql, params) => {
        this.#check();
        return root.all(sql, params);
      },
      first: async (sql, params) => {
        this.#check();
        return (await root.all(sql, params))[0] as never;
      },
      run: (sql, params) => {
        const result = this.#queue(writeItems([{ sql, params: params ?? [] }])).then(
          (results) => results[0] as StatementResult,
        );
        // A step need not await its queued writes: their failure is the batch's, reported by it.
        result.catch(() => {});
        return result;
      },
      batch: (writes: readonly BatchWrite[]) => {
        let items: BatchItem[];
        try {
          items = writeItems(writes);
        } catch (error) {
          return Promise.reject(error);
        }
        return this.#queue(items);
      },
    };
    Object.defineProperty(handle, SCOPE, { value: this.#scope });
    this.handle = Object.freeze(handle);
  }

  /** The statement runner the saga log appends its records through: reads now, batches queued. */
  sqlFor(_scope: TransactionScope<DeferredBatch>): BatchSql {
    return {
      all: (sql, params) => this.#root.all(sql, params),
      run: () =>
        Promise.reject(
          new StoreError("not_committed", "A single statement cannot join a deferred batch."),
        ),
      batch: async (items) => {
        this.#check();
        this.#statements += items.filter((item) => !("check" in item)).length;
        this.#items.push(...items);
        return [];
      },
    };
  }

  /** Sends the batch, if anything was queued, and settles every queued write's promise. */
  async commit(scope: CallScope): Promise<void> {
    this.#scope.active = false;
    const items = this.#items;
    if (items.length === 0) return;
    let results: StatementResult[];
    try {
      refuseIfAborted(scope);
      results = await this.#root.batch(items);
    } catch (error) {
      this.abandon(error);
      throw error;
    }
    for (const queued of this.#queued) {
      queued.resolve(results.slice(queued.from, queued.from + queued.count));
    }
  }

  /** Ends the batch unsent: every queued write fails with `error`. */
  abandon(error: unknown): void {
    this.#scope.active = false;
    for (const queued of this.#queued) queued.reject(error);
  }

  #check(): void {
    if (!this.#scope.active) {
      throw new StoreError(
        "not_committed",
        `The batch on "${this.storeId}" has already been sent; a statement through its handle was refused.`,
      );
    }
  }

  #queue(items: BatchItem[]): Promise<StatementResult[]> {
    try {
      this.#check();
    } catch (error) {
      return Promise.reject(error);
    }
    const count = items.filter((item) => !("check" in item)).length;
    const promise = new Promise<StatementResult[]>((resolve, reject) => {
      this.#queued.push({ from: this.#statements, count, resolve, reject });
    });
    this.#statements += count;
    this.#items.push(...items);
    // A step need not await its queued writes: their failure is the batch's, reported by it.
    promise.catch(() => {});
    return promise;
  }
}

/** What a batch database's scoped handle carries for the saga log's co-commit. */
export interface BatchScopeContext {
  readonly storeId: string;
  readonly database: unknown;
  sqlFor(scope: TransactionScope<BatchScopeContext>): BatchSql;
}

/**
 * Marks `handle` as writing through `context` (a deferred batch, an interactive transaction), so
 * the saga log can append its records to it.
 */
export function attachScope(handle: object, scope: TransactionScope<BatchScopeContext>): void {
  Object.defineProperty(handle, SCOPE, { value: scope });
}

/** The deferred batch or transaction behind a handle, or `undefined` for anything else. */
export function deferredScopeOf(handle: unknown): TransactionScope<BatchScopeContext> | undefined {
  if (typeof handle !== "object" || handle === null) return undefined;
  return (handle as Record<symbol, unknown>)[SCOPE] as
    | TransactionScope<BatchScopeContext>
    | undefined;
}

/**
 * Runs `work` with a deferred batch's handle and sends the batch when `work` resolves; when it
 * rejects, nothing is sent.
 */
export async function runDeferredBatch<T>(
  storeId: string,
  database: unknown,
  root: BatchSql,
  work: (handle: BatchHandle) => Promise<T>,
  scope: CallScope,
): Promise<T> {
  const unit = new DeferredBatch(storeId, database, root);
  let value: T;
  try {
    value = await work(unit.handle);
  } catch (error) {
    unit.abandon(error);
    throw error;
  }
  await unit.commit(scope);
  return value;
}
