import { err, errAsync, ok, type Result, ResultAsync } from "neverthrow";
import { z } from "zod";
import { ErrorKind } from "../model/error-kind.js";
import { StepKind } from "../model/step-kind.js";
import { type Clock, systemClock } from "./clock.js";
import { type CallScope, callWithDeadline, callWithDeadlineNow } from "./deadline.js";
import { classifyError, StoreError } from "./error-kinds.js";
import { type AtomicError, ErrorCode, lockstepError } from "./errors.js";
import { messageOf } from "./message-of.js";
import { createRunner, type Runner } from "./runner.js";
import { defineSaga, type Saga } from "./saga.js";
import { cannotTell, compensated, guardFailed, type ProbeResult } from "./step.js";
import { isWriteStore, type Store, type WriteStore } from "./store.js";
import { describeValue, durationProblem } from "./validate.js";

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
   * transactions nor batches. Affecting nothing means the state moved on and is not undone.
   */
  readonly undo?: (handle: Handle, result: WriteResult) => Write;
  /**
   * Reads whether the write landed, for the sequential strategy when a write's outcome is unknown.
   * Without it such a write leaves the work in doubt rather than risk undoing committed state.
   */
  readonly probe?: (handle: Handle, scope: CallScope) => Promise<ProbeResult<WriteResult>>;
}

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

/** Which strategy `runAtomic` used. */
export type AtomicStrategy = "transaction" | "batch" | "sequential";

/** Options of {@link runAtomic}. */
export interface RunAtomicOptions {
  /**
   * `"atomic"` refuses, before any write, a store with neither transactions nor atomic batches;
   * `"any"` falls back to sequential writes undone by each write's `undo`.
   * @default "any"
   */
  readonly require?: "atomic" | "any";
  /** Cancels the work. */
  readonly signal?: AbortSignal;
  /**
   * Deadline of the whole transaction or batch, or of each sequential write, in milliseconds.
   * @default 10000
   */
  readonly timeoutMs?: number;
  /** The clock for deadlines. @default the system clock */
  readonly clock?: Clock;
  /**
   * The runner whose log records the sequential strategy's undo steps.
   *
   * The sequential strategy is not crash-safe: its undo builders are closures, so a process that
   * dies between two writes leaves the earlier ones in place, and no recoverer can rebuild the
   * undo. For work that must survive a crash on such a store, write each write as a saga step
   * with a probe and a guarded compensation, which recovery can finish from the log.
   * @default a runner with an in-memory log
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

/**
 * Applies `writes` to one store all-or-nothing with the strongest strategy the store declares:
 * one transaction; else one atomic batch; else (unless `require: "atomic"`) sequential writes, each
 * undone by its `undo` if a later one fails. The report names the strategy that ran.
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

function conflict(
  store: string,
  index: number,
  write: string,
  strategy: AtomicStrategy,
): AtomicError {
  return lockstepError({
    code: ErrorCode.Conflict,
    message: `Guarded write "${write}" (#${index}) on store "${store}" affected nothing: another writer changed its target first. Nothing of the ${strategy} was applied.`,
    store,
    index,
    write,
  });
}

function failed(
  store: string,
  index: number,
  write: string,
  kind: ErrorKind,
  cause: unknown,
): AtomicError {
  const applied =
    kind === ErrorKind.Unknown || kind === ErrorKind.Timeout
      ? "It may have been applied: check the store before retrying."
      : "Nothing of the work was applied.";
  return lockstepError({
    code: ErrorCode.WriteFailed,
    message: `Write "${write}" (#${index}) on store "${store}" failed (${kind}): ${messageOf(cause)}. ${applied}`,
    store,
    index,
    write,
    kind,
    cause,
  });
}

/** The error a lost guard becomes inside runAtomic: a conflict carrying the write's position. */
function guardLost(index: number): StoreError {
  return new StoreError("conflict", `Guarded write #${index} affected nothing.`, { index });
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
    const lost = writes.findIndex((w, i) => w.guarded && store.affected(results[i] as R) === 0);
    if (lost >= 0) throw guardLost(lost);
    return results;
  }).then((outcome) => settle(store, writes, outcome, 0, "batch"));
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

function findGuardLost(error: unknown): { index: number } | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 16 && current !== undefined && current !== null; depth++) {
    if (
      StoreError.is(current) &&
      current.kind === ErrorKind.Conflict &&
      current.index !== undefined
    ) {
      return { index: current.index };
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function nameAt(writes: readonly { name: string }[], index: number): string {
  return writes[index]?.name ?? `#${index}`;
}

const positionSchema = z.object({ index: z.number().int() });

/** The saga builder with step types erased: the steps are generated, so inference has nothing to add. */
interface ErasedBuilder {
  step(name: string, config: unknown): ErasedBuilder;
  build(): Saga<z.ZodNull, Record<string, unknown>>;
}

async function viaSequence<H, W, R>(
  store: WriteStore<H, W, R>,
  writes: readonly AtomicWrite<H, W, R>[],
  clock: Clock,
  timeoutMs: number,
  options: RunAtomicOptions,
): Promise<Settled<R>> {
  // The sequence runs as a saga: each write a compensatable step undone by its `undo`, the last one
  // the pivot. Results stay in memory; the log records positions, since results need not be JSON.
  const results: R[] = [];
  let builder = defineSaga(`runAtomic:${store.id}`, {
    input: z.null(),
  }) as unknown as ErasedBuilder;
  writes.forEach((write, index) => {
    const last = index === writes.length - 1;
    builder = builder.step(`${index}:${write.name}`, {
      store,
      kind: last ? StepKind.Pivot : StepKind.Compensatable,
      output: positionSchema,
      timeoutMs,
      retry: { attempts: 1 },
      execute: async ({
        handle,
        signal,
        deadline,
      }: {
        handle: H;
        signal: AbortSignal;
        deadline: number;
      }) => {
        const result = await store.apply(handle, write.build(handle), { signal, deadline });
        if (write.guarded && store.affected(result) === 0) throw guardLost(index);
        results[index] = result;
        return { index };
      },
      probe: async ({
        handle,
        signal,
        deadline,
      }: {
        handle: H;
        signal: AbortSignal;
        deadline: number;
      }) => {
        if (write.probe === undefined) return cannotTell("the write has no probe");
        const found = await write.probe(handle, { signal, deadline });
        if (found.status !== "committed") return found;
        results[index] = found.output;
        return { status: "committed", output: { index } };
      },
      ...(last
        ? {}
        : {
            compensate: async ({
              handle,
              signal,
              deadline,
            }: {
              handle: H;
              signal: AbortSignal;
              deadline: number;
            }) => {
              const undo = write.undo as NonNullable<typeof write.undo>;
              const result = await store.apply(handle, undo(handle, results[index] as R), {
                signal,
                deadline,
              });
              return store.affected(result) === 0
                ? guardFailed(
                    `the undo of write "${write.name}" found its target changed by another writer`,
                  )
                : compensated();
            },
          }),
    });
  });
  const saga = builder.build();
  const runner = options.runner ?? createRunner({ clock, timeoutMs });
  const run = await runner.run(
    saga,
    null,
    options.signal === undefined ? {} : { signal: options.signal },
  );
  if (run.isOk()) return ok({ store: store.id, strategy: "sequential", results });
  const error = run.error;
  const index = "step" in error ? Number.parseInt(String(error.step), 10) : 0;
  const at = Number.isNaN(index) ? 0 : index;
  if (error.code === ErrorCode.StepFailed) {
    const lost = findGuardLost(error.cause);
    if (lost !== undefined)
      return err(conflict(store.id, lost.index, nameAt(writes, lost.index), "sequential"));
    return err(failed(store.id, at, nameAt(writes, at), error.kind, error.cause));
  }
  if (
    error.code === ErrorCode.NeedsAttention ||
    error.code === ErrorCode.InDoubt ||
    error.code === ErrorCode.Cancelled
  ) {
    return err(error);
  }
  return err(failed(store.id, at, nameAt(writes, at), ErrorKind.Unknown, error));
}
