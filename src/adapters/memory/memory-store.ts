import type { CallScope } from "../../core/deadline.js";
import { classifyError, StoreError } from "../../core/error-kinds.js";
import { messageOf } from "../../core/message-of.js";
import { raceAbort } from "../../core/race-abort.js";
import { defineStore, type WriteStore } from "../../core/store.js";
import { ErrorKind, isProvablyNotApplied } from "../../model/error-kind.js";
import { createMemoryHandle, type MemoryHandle } from "./memory-handle.js";
import {
  applyTo,
  applyToView,
  clone,
  commitOverlay,
  docOf,
  documentsOf,
  guardHolds,
  type MemoryDoc,
  type MemoryOverlay,
  type MemorySlot,
  type MemoryWrite,
  type MemoryWriteResult,
  overlayView,
} from "./memory-write.js";
import { Mutex } from "./mutex.js";

/** Where a fault hook is called: around each write, and after a transaction or batch committed. */
export type MemoryFaultPoint =
  | {
      readonly phase: "before" | "after";
      readonly write: MemoryWrite;
      readonly inTransaction: boolean;
    }
  | { readonly phase: "committed"; readonly writes: readonly MemoryWrite[] };

/** The three tiers of atomicity a memory store can offer. */
export type MemoryTier = "transactional" | "batch" | "plain";

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** The store's id. @default "memory:<tier>" */
  readonly id?: string;
  /** Which atomicity the store declares. */
  readonly tier: MemoryTier;
  /** Initial documents, by key. */
  readonly seed?: Readonly<Record<string, unknown>>;
}

/** An in-memory store, for tests, examples and the testing kit. */
export interface MemoryStore extends WriteStore<MemoryHandle, MemoryWrite, MemoryWriteResult> {
  readonly tier: MemoryTier;
  /**
   * Called before and after every write, and after each commit; throw from it to inject a fault
   * (before: the write never lands; after/committed: it lands and the caller sees an error), or
   * return a promise that never settles to make the call hang.
   */
  faults: ((point: MemoryFaultPoint) => void | Promise<void>) | undefined;
  /** A copy of every committed document, by key. */
  snapshot(): Record<string, MemoryDoc>;
  /** How many writes have been applied and committed. */
  readonly writeCount: number;
}

/**
 * Creates an in-memory store of the given tier: `transactional` declares transactions (each owns the
 * store until it ends; writes through the root handle wait behind it), `batch` declares atomic
 * batches, `plain` declares neither. All three support guarded writes, and declare
 * `versionsNeverReused`: a deleted document leaves a tombstone holding its last version, and the
 * next document under its key continues from there, so a guard written against the deleted one can
 * never match it. Tombstones stay for the store's lifetime (one number per deleted key).
 *
 * @example
 * ```ts
 * const store = createMemoryStore({ tier: "batch", seed: { "account:a": { balance: 10 } } });
 * ```
 */
export function createMemoryStore(options: MemoryStoreOptions): MemoryStore {
  const data = new Map<string, MemorySlot>(
    Object.entries(options.seed ?? {}).map(([key, value]) => [
      key,
      { value: clone(value), version: 1 },
    ]),
  );
  const mutex = new Mutex();
  let writeCount = 0;
  const state: { faults: MemoryStore["faults"] } = { faults: undefined };
  const hook = async (point: MemoryFaultPoint) => {
    await state.faults?.(point);
  };

  const rootHandle = createMemoryHandle(
    async (key) => docOf(data.get(key)),
    () => documentsOf(data.entries()),
    async (write) => {
      // A root write holds the store only while it applies: a request that hangs before it is
      // applied, or whose response is lost after, does not lock anyone else out.
      await hook({ phase: "before", write, inTransaction: false });
      const release = await mutex.lock();
      let result: MemoryWriteResult;
      try {
        result = applyTo(data, write);
        if (result.affected) writeCount++;
      } finally {
        release();
      }
      await hook({ phase: "after", write, inTransaction: false });
      return result;
    },
  );

  const transaction = async <T>(
    work: (tx: MemoryHandle) => Promise<T>,
    scope: CallScope,
  ): Promise<T> => {
    const release = await mutex.lock();
    try {
      const overlay: MemoryOverlay = new Map();
      const writes: MemoryWrite[] = [];
      const view = overlayView(data, overlay);
      const tx = createMemoryHandle(
        async (key) => docOf(view(key)),
        () => {
          const keys = new Set([...data.keys(), ...overlay.keys()]);
          return documentsOf([...keys].map((k) => [k, view(k)] as const));
        },
        async (write) => {
          if (scope.signal.aborted)
            throw new StoreError("not_committed", "The transaction was aborted.");
          await hook({ phase: "before", write, inTransaction: true });
          const result = applyToView(view, overlay, write);
          writes.push(write);
          await hook({ phase: "after", write, inTransaction: true });
          return result;
        },
      );
      let value: T;
      try {
        // An abort rolls back at once, even if the work never settles; its later writes hit the
        // discarded overlay and fail, so a hung transaction never holds the store.
        value = await untilAborted(work(tx), scope.signal);
        if (scope.signal.aborted)
          throw new StoreError("not_committed", "The transaction was aborted before commit.");
      } catch (error) {
        // Rolled back: nothing of the transaction is applied, whatever the work threw.
        const kind = classifyError(error);
        throw new StoreError(
          isProvablyNotApplied(kind) ? kind : ErrorKind.NotCommitted,
          messageOf(error),
          {
            cause: error,
          },
        );
      }
      commitOverlay(data, overlay);
      writeCount += writes.length;
      await hook({ phase: "committed", writes });
      return value;
    } finally {
      release();
    }
  };

  const batch = async (
    writes: readonly MemoryWrite[],
    scope: CallScope,
  ): Promise<readonly MemoryWriteResult[]> => {
    const release = await mutex.lock();
    try {
      if (scope.signal.aborted)
        throw new StoreError("not_committed", "The batch was aborted before it was sent.");
      await untilAborted(
        (async () => {
          for (const write of writes) await hook({ phase: "before", write, inTransaction: false });
        })(),
        scope.signal,
      );
      const overlay: MemoryOverlay = new Map();
      const view = overlayView(data, overlay);
      // Guards are checked in order against the state the earlier writes leave, as Redis and D1 do.
      const results: MemoryWriteResult[] = [];
      for (const [index, write] of writes.entries()) {
        if (!guardHolds(docOf(view(write.key)), write)) {
          throw new StoreError(
            "conflict",
            `The guard of batch write #${index} (${write.key}) did not hold; nothing was applied.`,
            { index },
          );
        }
        results.push(applyToView(view, overlay, write));
      }
      commitOverlay(data, overlay);
      writeCount += writes.length;
      for (const write of writes) await hook({ phase: "after", write, inTransaction: false });
      await hook({ phase: "committed", writes });
      return results;
    } finally {
      release();
    }
  };

  const tier = options.tier;
  const store = defineStore<MemoryHandle, MemoryWrite, MemoryWriteResult>({
    id: options.id ?? `memory:${tier}`,
    handle: rootHandle,
    capabilities: {
      transactions: tier === "transactional",
      atomicBatch: tier === "batch",
      conditionalWrite: true,
      versionsNeverReused: true,
    },
    ...(tier === "transactional" ? { transaction } : {}),
    ...(tier === "batch" ? { batch } : {}),
    apply: (handle, write) => handle.apply(write),
    affected: (result) => result.affected,
  });
  // An object literal (not Object.assign) so the accessors stay accessors.
  const memory: MemoryStore = {
    ...(store as WriteStore<MemoryHandle, MemoryWrite, MemoryWriteResult>),
    tier,
    get faults() {
      return state.faults;
    },
    set faults(value: MemoryStore["faults"]) {
      state.faults = value;
    },
    snapshot: () =>
      Object.fromEntries(
        documentsOf(data.entries()).map(([k, v]) => [
          k,
          { value: clone(v.value), version: v.version },
        ]),
      ),
    get writeCount() {
      return writeCount;
    },
  };
  return memory;
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return raceAbort(
    promise,
    signal,
    () => new StoreError("not_committed", "Aborted before it was applied."),
  );
}
