import { err, errAsync, ok, type Result, ResultAsync } from "neverthrow";
import { ErrorKind } from "../model/error-kind.js";
import { conflict, failed, findGuardLost, guardLost, nameAt } from "./atomic-failure.js";
import { viaSequence } from "./atomic-sequence.js";
import type {
  AtomicReport,
  AtomicStrategy,
  AtomicWrite,
  RunAtomicOptions,
} from "./atomic-write.js";
import { type Clock, systemClock } from "./clock.js";
import { type CallScope, callWithDeadline, callWithDeadlineNow } from "./deadline.js";
import { classifyError, StoreError } from "./error-kinds.js";
import { type AtomicError, ErrorCode, lockstepError } from "./errors.js";
import { signalProblem } from "./signal-option.js";
import { isWriteStore, type Store, type WriteStore } from "./store.js";
import { describeValue, durationProblem } from "./validate.js";

export type {
  AtomicReport,
  AtomicStrategy,
  AtomicWrite,
  RunAtomicOptions,
} from "./atomic-write.js";

/**
 * How a store whose transactions run statements synchronously underneath (SQLite) lets
 * {@link runAtomic} run a transaction without a promise per write. Internal to lockstep's own
 * adapters; other stores run through `transaction` and `apply`.
 * @internal
 */
export const TRANSACT_NOW: unique symbol = Symbol.for("lockstep.run-atomic.transact-now");

/** See {@link TRANSACT_NOW}. @internal */
export interface TransactNow<Handle, Write, WriteResult> {
  /**
   * Runs synchronous `work` in one transaction and returns its value, or throws, as soon as the
   * transaction has committed or rolled back; returns a promise of that only when it must first
   * wait (for a write gate).
   */
  transaction<T>(work: (tx: Handle) => T, scope: CallScope): T | Promise<T>;
  /**
   * Applies one write through the handle of such a transaction at once, with every check `apply`
   * makes, throwing what `apply` would reject with.
   */
  apply(tx: Handle, write: Write, scope: CallScope): WriteResult;
}

/**
 * Applies `writes` to one store all-or-nothing with the strongest strategy the store declares:
 * one transaction; else one atomic batch; else (unless `require: "atomic"`) sequential writes, each
 * undone by its `undo` if a later one fails (retried with the runner's policy). The report names
 * the strategy that ran.
 *
 * A failure always says what is applied. `write_failed` and `conflict` mean nothing of the work is
 * (or, for a transaction or batch whose commit went unanswered, that all of it may be). On the
 * sequential strategy, `partially_applied` names the writes an undo could not take back and why,
 * and `in_doubt` names the writes applied and the one whose outcome its probe could not tell; both
 * carry the saga's id and report, and say whether a recoverer can finish the work (see
 * {@link RunAtomicOptions.log}).
 *
 * @example
 * ```ts
 * const result = await runAtomic(store, [
 *   { name: "debit", guarded: true, build: () => memoryPut("a", 5, 3) },
 *   { name: "credit", build: () => memoryPut("b", 15) },
 * ], { require: "atomic" });
 * ```
 */
export function runAtomic<Handle, Write, WriteResult>(
  store: WriteStore<Handle, Write, WriteResult>,
  writes: readonly AtomicWrite<NoInfer<Handle>, NoInfer<Write>, NoInfer<WriteResult>>[],
  options: RunAtomicOptions = {},
): ResultAsync<AtomicReport<WriteResult>, AtomicError> {
  const refused = check(store, writes, options);
  if (refused !== undefined) return errAsync(refused);
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? 10_000;
  // The one place capabilities choose a strategy. Each strategy settles to a plain Result, wrapped
  // once here: fewer promises per call than chaining ResultAsyncs.
  if (store.capabilities.transactions) {
    return new ResultAsync(viaTransaction(store, writes, clock, timeoutMs, options.signal));
  }
  if (store.capabilities.atomicBatch) {
    return new ResultAsync(viaBatch(store, writes, clock, timeoutMs, options.signal));
  }
  return new ResultAsync(viaSequence(store, writes, clock, timeoutMs, options));
}

type Settled<T> = Result<AtomicReport<T>, AtomicError>;

function check<H, W, R>(
  store: WriteStore<H, W, R>,
  writes: readonly AtomicWrite<H, W, R>[],
  options: RunAtomicOptions,
): AtomicError | undefined {
  if (!isWriteStore(store as Store<H, W, R>)) {
    return lockstepError({
      code: ErrorCode.CapabilityMissing,
      message: `Store "${store.id}" cannot apply prepared writes (it has no \`apply\`); runAtomic needs them.`,
      store: store.id,
      capability: "apply",
    });
  }
  if (options.require !== undefined && options.require !== "atomic" && options.require !== "any") {
    return lockstepError({
      code: ErrorCode.InvalidOptions,
      message: `Expected \`require\` to be "atomic" or "any", got ${describeValue(options.require)}.`,
      option: "require",
    });
  }
  const signal = signalProblem(options.signal);
  if (signal !== undefined) {
    return lockstepError({ code: ErrorCode.InvalidOptions, message: signal, option: "signal" });
  }
  if (options.runner !== undefined && options.log !== undefined) {
    return lockstepError({
      code: ErrorCode.InvalidOptions,
      message: "Expected either `runner` or `log`, not both: a runner already has its log.",
      option: "log",
    });
  }
  const timeout =
    options.timeoutMs === undefined ? undefined : durationProblem("timeoutMs", options.timeoutMs);
  if (timeout !== undefined) {
    return lockstepError({ code: ErrorCode.InvalidOptions, message: timeout, option: "timeoutMs" });
  }
  if (!Array.isArray(writes) || writes.length === 0) {
    return lockstepError({
      code: ErrorCode.InvalidOptions,
      message: `Expected \`writes\` to be a non-empty array of writes, got ${describeValue(writes)}.`,
      option: "writes",
    });
  }
  const { transactions, atomicBatch, conditionalWrite } = store.capabilities;
  const guarded = conditionalWrite ? undefined : firstGuarded(writes);
  if (guarded !== undefined) {
    return lockstepError({
      code: ErrorCode.CapabilityMissing,
      message: `Write "${guarded.name}" is guarded, but store "${store.id}" does not declare conditionalWrite, so a lost guard could not be detected. Nothing was written.`,
      store: store.id,
      capability: "conditionalWrite",
    });
  }
  if (!transactions && !atomicBatch) {
    if (options.require === "atomic") {
      return lockstepError({
        code: ErrorCode.AtomicityUnavailable,
        message: `Store "${store.id}" declares neither transactions nor atomic batches, and the work requires atomicity; nothing was written.`,
        store: store.id,
      });
    }
    const missing = writes.slice(0, -1).find((w) => w.undo === undefined);
    if (missing) {
      return lockstepError({
        code: ErrorCode.AtomicityUnavailable,
        message: `Store "${store.id}" declares neither transactions nor atomic batches, so its writes run one by one, but write "${missing.name}" has no \`undo\` to reverse it if a later write fails; nothing was written.`,
        store: store.id,
      });
    }
  }
  return undefined;
}

function firstGuarded<W extends { readonly guarded?: boolean }>(
  writes: readonly W[],
): W | undefined {
  for (const write of writes) if (write.guarded) return write;
  return undefined;
}

function viaTransaction<H, W, R>(
  store: WriteStore<H, W, R>,
  writes: readonly AtomicWrite<H, W, R>[],
  clock: Clock,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Settled<R>> {
  const transaction = store.transaction as NonNullable<typeof store.transaction>;
  const now = (store as { readonly [TRANSACT_NOW]?: TransactNow<H, W, R> })[TRANSACT_NOW];
  let index = 0;
  const outcome = callWithDeadlineNow(clock, timeoutMs, signal, (scope) => {
    if (now !== undefined) {
      // Every write at once, in a transaction that commits before this returns when it can.
      return now.transaction((tx) => {
        const results: R[] = [];
        for (index = 0; index < writes.length; index++) {
          const write = writes[index] as AtomicWrite<H, W, R>;
          const result = now.apply(tx, write.build(tx), scope);
          if (write.guarded && store.affected(result) === 0) throw guardLost(index);
          results.push(result);
        }
        return results;
      }, scope);
    }
    return transaction(async (tx) => {
      const results: R[] = [];
      for (index = 0; index < writes.length; index++) {
        const write = writes[index] as AtomicWrite<H, W, R>;
        const result = await store.apply(tx, write.build(tx), scope);
        if (write.guarded && store.affected(result) === 0) throw guardLost(index);
        results.push(result);
      }
      return results;
    }, scope);
  });
  // Chained rather than awaited (an async function costs two more promises), and not chained at
  // all when the transaction finished before callWithDeadlineNow returned.
  if (outcome instanceof Promise) {
    return outcome.then((settled) => settle(store, writes, settled, index, "transaction"));
  }
  return Promise.resolve(settle(store, writes, outcome, index, "transaction"));
}

function viaBatch<H, W, R>(
  store: WriteStore<H, W, R>,
  writes: readonly AtomicWrite<H, W, R>[],
  clock: Clock,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Settled<R>> {
  const batch = store.batch as NonNullable<typeof store.batch>;
  return callWithDeadline(clock, timeoutMs, signal, async (scope) => {
    const results = await batch(
      writes.map((w) => w.build(store.handle)),
      scope,
    );
    if (results.length !== writes.length) {
      throw new StoreError(
        "unknown",
        `Store "${store.id}" returned ${results.length} batch results for ${writes.length} writes.`,
      );
    }
    return results;
  }).then((outcome) => {
    if (outcome.status === "ok") {
      // A store that enforces a write's guard fails the whole batch when it loses; a batch that
      // came back applied, guard lost or not, so say so rather than call it a clean conflict.
      const results = outcome.value;
      const lost = (i: number) =>
        writes[i]?.guarded === true && store.affected(results[i] as R) === 0;
      const at = writes.findIndex((_, i) => lost(i));
      if (at >= 0) {
        const applied = writes.flatMap((_, i) => (lost(i) ? [] : [nameAt(writes, i)]));
        return err(conflict(store.id, at, nameAt(writes, at), "batch", applied));
      }
    }
    return settle(store, writes, outcome, 0, "batch");
  });
}

function settle<H, W, R>(
  store: WriteStore<H, W, R>,
  writes: readonly AtomicWrite<H, W, R>[],
  outcome: Awaited<ReturnType<typeof callWithDeadline<readonly R[]>>>,
  index: number,
  strategy: AtomicStrategy,
): Settled<R> {
  if (outcome.status === "ok") {
    return ok({ store: store.id, strategy, results: outcome.value });
  }
  if (outcome.status === "error") {
    const lost = findGuardLost(outcome.error);
    if (lost !== undefined)
      return err(conflict(store.id, lost.index, nameAt(writes, lost.index), strategy));
  }
  const kind =
    outcome.status === "error"
      ? classifyError(outcome.error, store.classifyError)
      : outcome.status === "timeout"
        ? ErrorKind.Timeout
        : ErrorKind.Unknown;
  const cause =
    outcome.status === "error"
      ? outcome.error
      : outcome.status === "timeout"
        ? new Error(`The ${strategy} did not finish within its deadline.`)
        : outcome.reason;
  const at = Math.min(index, writes.length - 1);
  return err(failed(store.id, at, nameAt(writes, at), kind, cause));
}
