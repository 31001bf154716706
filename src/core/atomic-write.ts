import type { SagaLog } from "../log/saga-log.js";
import type { Clock } from "./clock.js";
import type { CallScope } from "./deadline.js";
import type { Runner } from "./runner.js";
import type { ProbeResult } from "./step.js";

/** One write of a `runAtomic` unit of work. */
export interface AtomicWrite<Handle, Write, WriteResult> {
  /** A name for reports and errors. */
  readonly name: string;
  /**
   * Builds the store's prepared write from a handle: the transaction's, or the root handle for a
   * batch. Builders run when the strategy is known, so reads they make are not stale.
   */
  readonly build: (handle: Handle) => Write;
  /**
   * Whether the write carries its own precondition (`WHERE version = ?`, `If-Match`), so that
   * affecting nothing means another writer got there first: a conflict.
   * @default false
   */
  readonly guarded?: boolean;
  /**
   * The guarded write that undoes this one, for the sequential strategy on a store with neither
   * transactions nor batches. Affecting nothing means the state moved on and is not undone. It is
   * retried with the runner's retry policy when it fails.
   */
  readonly undo?: (handle: Handle, result: WriteResult) => Write;
  /**
   * Reads whether the write is in the store now, for the sequential strategy: when a write's
   * outcome is unknown, when an undo's reply was lost (it may have landed), and when a recoverer
   * rebuilds the undo without the write's result. Without it a write of unknown outcome leaves the
   * work in doubt rather than risk undoing committed state.
   */
  readonly probe?: (handle: Handle, scope: CallScope) => Promise<ProbeResult<WriteResult>>;
}

/** Which strategy `runAtomic` used. */
export type AtomicStrategy = "transaction" | "batch" | "sequential";

/** Options of `runAtomic`. */
export interface RunAtomicOptions {
  /**
   * `"atomic"` refuses, before any write, a store with neither transactions nor atomic batches;
   * `"any"` falls back to sequential writes undone by each write's `undo`.
   * @default "any"
   */
  readonly require?: "atomic" | "any";
  /**
   * Cancels the work. Anything other than an `AbortSignal` is refused as `invalid_options` before
   * any write.
   */
  readonly signal?: AbortSignal;
  /**
   * Deadline of the whole transaction or batch, or of each sequential write, in milliseconds.
   * @default 10000
   */
  readonly timeoutMs?: number;
  /** The clock for deadlines. @default the system clock */
  readonly clock?: Clock;
  /**
   * The saga log the sequential strategy records its writes in, so that a saga it could not finish
   * (an undo that kept failing, a write in doubt) stays visible to a recoverer: one given
   * `atomicSaga(store, writes)` over this log can finish it. Give a durable log (SQLite, Postgres)
   * for the saga to outlive the process; `runner` and `log` exclude each other.
   *
   * Without it the sequential strategy records to a log of its own in memory, which no recoverer
   * can see: a failure it cannot undo is then the caller's to repair, and its error says so.
   * @default a private in-memory log
   * @example
   * ```ts
   * // `log` is a durable SagaLog, e.g. sqliteSagaLog(db) or postgresSagaLog(pool).
   * await runAtomic(store, [{ name: "order", build: () => memoryPut("order:o-1", "placed") }], { log });
   * ```
   */
  readonly log?: SagaLog;
  /**
   * The runner whose log records the sequential strategy's writes and whose retry policy retries
   * each undo (3 attempts with backoff by default); `runner` and `log` exclude each other.
   *
   * A crash between two sequential writes leaves the earlier ones in place until a recoverer given
   * `atomicSaga(store, writes)` (with the same writes, rebuilt) undoes them from a durable log, which
   * needs each write's `probe` to read its result back. For work that must survive a crash without
   * that, write each write as a saga step with a probe and a guarded compensation.
   * @default a runner over `log`, or over a private in-memory log
   */
  readonly runner?: Runner;
}

/** What `runAtomic` did. */
export interface AtomicReport<WriteResult> {
  /** The store's id. */
  readonly store: string;
  /** The strategy that ran. */
  readonly strategy: AtomicStrategy;
  /** Each write's result, by position. */
  readonly results: readonly WriteResult[];
}
