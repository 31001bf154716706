import { z } from "zod";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { isProvablyNotApplied } from "../model/error-kind.js";
import { StepKind } from "../model/step-kind.js";
import { guardLost } from "./atomic-failure.js";
import type { AtomicWrite } from "./atomic-write.js";
import type { CallScope } from "./deadline.js";
import { classifyError, StoreError } from "./error-kinds.js";
import { defineSaga, type Saga } from "./saga.js";
import {
  type CompensationResult,
  cannotTell,
  compensated,
  guardFailed,
  type ProbeResult,
} from "./step.js";
import type { WriteStore } from "./store.js";
import { describeValue } from "./validate.js";

/** What the sequential strategy learns about each write, by position, while its saga runs. */
export interface AtomicTrace<R> {
  /** Each write's result, once known (from its execute or its probe). */
  readonly results: Map<number, R>;
  /** Writes whose last undo may have landed although it failed (its reply was lost). */
  readonly uncertain: Set<number>;
  /** Writes whose last undo has not answered: it outlived its deadline and may still land. */
  readonly unanswered: Set<number>;
  /** The last error each undo failed with. */
  readonly undoErrors: Map<number, unknown>;
  /** Why each write's probe could not tell, when it could not. */
  readonly probeReasons: Map<number, string>;
}

/** The saga builder with step types erased: the steps are generated, so inference has nothing to add. */
interface ErasedBuilder {
  step(name: string, config: unknown): ErasedBuilder;
  build(): Saga<z.ZodNull, Record<string, unknown>>;
}

/** What every generated step function receives that it uses. */
interface Call<H> {
  readonly handle: H;
  readonly signal: AbortSignal;
  readonly deadline: number;
}

// The log records positions, not results: a store's results need not be JSON.
const positionSchema = z.object({ index: z.number().int() });

/**
 * The saga `runAtomic` runs for `writes` on a store with neither transactions nor batches: each
 * write a compensatable step undone by its `undo`, the last one the pivot. Give it to
 * `createRecoverer` (with a runner over the `log` runAtomic was given) so recovery can finish what
 * runAtomic could not: an undo that kept failing, a write left in doubt. Build it from the same
 * writes, in the same order; the recoverer refuses a saga whose steps differ from the log's.
 * Rebuilt this way, an undo reads its write's result back through the write's `probe`.
 *
 * @example
 * ```ts
 * const writes = [
 *   { name: "hold", build: () => memoryPut("hold:o-1", 30, "absent"), undo: () => memoryDelete("hold:o-1") },
 *   { name: "order", build: () => memoryPut("order:o-1", "placed", "absent") },
 * ];
 * const result = await runAtomic(store, writes, { log });
 * if (result.isErr() && result.error.code === ErrorCode.PartiallyApplied) {
 *   const recoverer = createRecoverer({ runner: createRunner({ log }), sagas: [atomicSaga(store, writes)] });
 *   await recoverer.recover(); // undoes "hold" once the store accepts it
 * }
 * ```
 */
export function atomicSaga<Handle, Write, WriteResult>(
  store: WriteStore<Handle, Write, WriteResult>,
  writes: readonly AtomicWrite<NoInfer<Handle>, NoInfer<Write>, NoInfer<WriteResult>>[],
  options: { readonly timeoutMs?: number } = {},
): Saga<z.ZodNull, Record<string, unknown>> {
  if (!Array.isArray(writes) || writes.length === 0) {
    throw new LockstepDefinitionError(
      `Expected the writes of atomicSaga to be a non-empty array of writes, got ${describeValue(writes)}.`,
    );
  }
  const missing = writes.slice(0, -1).find((w) => w.undo === undefined);
  if (missing !== undefined) {
    throw new LockstepDefinitionError(
      `Write "${missing.name}" of atomicSaga has no \`undo\`; every write but the last needs one.`,
    );
  }
  return sequenceSaga(store, writes, options.timeoutMs ?? 10_000).saga;
}

/** Builds the sequential strategy's saga and the trace its steps keep. Writes are checked already. */
export function sequenceSaga<H, W, R>(
  store: WriteStore<H, W, R>,
  writes: readonly AtomicWrite<H, W, R>[],
  timeoutMs: number,
): { saga: Saga<z.ZodNull, Record<string, unknown>>; trace: AtomicTrace<R> } {
  const trace: AtomicTrace<R> = {
    results: new Map(),
    uncertain: new Set(),
    unanswered: new Set(),
    undoErrors: new Map(),
    probeReasons: new Map(),
  };
  // Named after the store and the writes, so a recoverer can hold one per shape of work.
  let builder = defineSaga(`runAtomic:${store.id}:${writes.map((w) => w.name).join(",")}`, {
    input: z.null(),
  }) as unknown as ErasedBuilder;
  writes.forEach((write, index) => {
    const last = index === writes.length - 1;
    builder = builder.step(`${index}:${write.name}`, {
      store,
      kind: last ? StepKind.Pivot : StepKind.Compensatable,
      output: positionSchema,
      timeoutMs,
      // A write is not retried: an error that proves it did not land ends the work, as it would
      // end a transaction. Its undo is, with the runner's policy: the runner retries a compensation
      // on any failure up to `attempts`, and an execute only on the kinds in `retryOn`.
      retry: { retryOn: [] },
      execute: async ({ handle, signal, deadline }: Call<H>) => {
        const result = await store.apply(handle, write.build(handle), { signal, deadline });
        if (write.guarded && store.affected(result) === 0) throw guardLost(index);
        trace.results.set(index, result);
        return { index };
      },
      probe: async ({ handle, signal, deadline }: Call<H>) => {
        const found = await probeWrite(write, handle, { signal, deadline });
        if (found.status === "unknown") {
          trace.probeReasons.set(index, found.reason ?? "it could not tell");
          return found;
        }
        if (found.status !== "committed") return found;
        trace.results.set(index, found.output);
        return { status: "committed", output: { index } };
      },
      ...(last
        ? {}
        : { compensate: (call: Call<H>) => undoWrite(store, write, index, trace, call) }),
    });
  });
  return { saga: builder.build(), trace };
}

function probeWrite<H, W, R>(write: AtomicWrite<H, W, R>, handle: H, scope: CallScope) {
  return write.probe === undefined
    ? Promise.resolve(cannotTell("the write has no probe"))
    : write.probe(handle, scope);
}

/** One attempt at undoing write `index`; the runner retries it with its policy. */
async function undoWrite<H, W, R>(
  store: WriteStore<H, W, R>,
  write: AtomicWrite<H, W, R>,
  index: number,
  trace: AtomicTrace<R>,
  { handle, signal, deadline }: Call<H>,
): Promise<CompensationResult> {
  const scope = { signal, deadline };
  const undo = write.undo as NonNullable<typeof write.undo>;
  // An earlier attempt that never answered (the runner gave up on it at its deadline) may land yet.
  if (trace.unanswered.has(index)) trace.uncertain.add(index);
  const wasUncertain = trace.uncertain.has(index);
  let result = trace.results.get(index);
  // After a lost reply the earlier undo may have landed, and a recoverer that rebuilt this saga
  // has no result to build the undo from: either way only a fresh read says whether the write is
  // still in place. Without a probe, a lost reply is met by undoing again, judged below.
  if ((wasUncertain && write.probe !== undefined) || !trace.results.has(index)) {
    let found: ProbeResult<R>;
    try {
      found = await probeWrite(write, handle, scope);
    } catch (error) {
      return fail(trace, index, error);
    }
    if (found.status === "not_committed") {
      settled(trace, index);
      return compensated();
    }
    if (found.status !== "committed") {
      const why = wasUncertain
        ? "whether its undo landed before a lost reply"
        : "its result, gone with the process that made it, so its undo cannot be built";
      const message =
        write.probe === undefined
          ? `Write "${write.name}" has no probe to read back ${why}.`
          : `The probe of write "${write.name}" cannot tell ${why}: ${found.reason ?? "it gave no reason"}.`;
      return fail(trace, index, new StoreError("unknown", message));
    }
    result = found.output;
    trace.results.set(index, result);
    // The write is still in place, but an earlier attempt that never answered may land yet.
    if (!trace.unanswered.has(index)) trace.uncertain.delete(index);
  }
  let prepared: W;
  try {
    prepared = undo(handle, result as R);
  } catch (error) {
    return fail(trace, index, error);
  }
  let applied: R;
  trace.unanswered.add(index);
  try {
    applied = await store.apply(handle, prepared, scope);
  } catch (error) {
    trace.unanswered.delete(index);
    if (!isProvablyNotApplied(classifyError(error, store.classifyError)))
      trace.uncertain.add(index);
    return fail(trace, index, error);
  }
  trace.unanswered.delete(index);
  if (store.affected(applied) !== 0) {
    settled(trace, index);
    return compensated();
  }
  if (trace.uncertain.has(index)) {
    // Affecting nothing after a lost reply is what an undo that already landed looks like, and
    // also what another writer's change looks like: with no probe, nothing can tell them apart.
    return fail(
      trace,
      index,
      new StoreError(
        "unknown",
        `The undo of write "${write.name}" affected nothing after an attempt whose reply was lost: that attempt may have landed${write.probe === undefined ? ", and the write has no probe to check" : ""}.`,
      ),
    );
  }
  return guardFailed(
    `the undo of write "${write.name}" found its target changed by another writer`,
  );
}

/** Forgets what made the undo of write `index` uncertain: a fresh read or answer settled it. */
function settled<R>(trace: AtomicTrace<R>, index: number): void {
  trace.uncertain.delete(index);
  trace.unanswered.delete(index);
}

function fail<R>(trace: AtomicTrace<R>, index: number, error: unknown): never {
  trace.undoErrors.set(index, error);
  throw error;
}
