import type { CallScope } from "../core/deadline.js";
import { classifyError, ErrorKind, isProvablyNotApplied, StoreError } from "../core/error-kinds.js";
import { messageOf } from "../core/message-of.js";
import { raceAbort } from "../core/race-abort.js";
import { defineStore, type WriteStore } from "../core/store.js";

/** A document in a memory store, with the version every write increments. */
export interface MemoryDoc {
  readonly value: unknown;
  readonly version: number;
}

/** A prepared write to a memory store. `ifVersion` makes it a guarded (compare-and-set) write. */
export type MemoryWrite =
  | {
      readonly op: "put";
      readonly key: string;
      readonly value: unknown;
      /** Apply only if the document is at this version, or absent (`"absent"`). */
      readonly ifVersion?: number | "absent";
    }
  | { readonly op: "delete"; readonly key: string; readonly ifVersion?: number };

/** Builds a put, guarded by `ifVersion` when given. */
export function memoryPut(key: string, value: unknown, ifVersion?: number | "absent"): MemoryWrite {
  return ifVersion === undefined ? { op: "put", key, value } : { op: "put", key, value, ifVersion };
}

/** Builds a delete, guarded by `ifVersion` when given. */
export function memoryDelete(key: string, ifVersion?: number): MemoryWrite {
  return ifVersion === undefined ? { op: "delete", key } : { op: "delete", key, ifVersion };
}

/** What a memory write did. */
export interface MemoryWriteResult {
  /** 1 when the write applied, 0 when its guard did not hold. */
  readonly affected: 0 | 1;
  /** The document's version after the write, or `null` when it does not exist. */
  readonly version: number | null;
}

/** How step code reads and writes a memory store. */
export interface MemoryHandle {
  /** Reads a document (a transaction sees its own writes). */
  get(key: string): Promise<MemoryDoc | undefined>;
  /** Lists documents whose key starts with `prefix`, sorted by key. */
  list(prefix?: string): Promise<readonly (MemoryDoc & { readonly key: string })[]>;
  /** Applies one write; a guarded write whose guard fails affects nothing. */
  apply(write: MemoryWrite): Promise<MemoryWriteResult>;
  /** Writes a document, optionally guarded by `ifVersion`. */
  put(key: string, value: unknown, ifVersion?: number | "absent"): Promise<MemoryWriteResult>;
  /** Deletes a document, optionally guarded by `ifVersion`. */
  delete(key: string, ifVersion?: number): Promise<MemoryWriteResult>;
}

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

/** An in-memory store for tests and the testing kit. */
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

class Mutex {
  #tail: Promise<void> = Promise.resolve();
  lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ready = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => next);
    return ready;
  }
}

/**
 * Creates an in-memory store of the given tier: `transactional` declares transactions (each owns the
 * store until it ends; writes through the root handle wait behind it), `batch` declares atomic
 * batches, `plain` declares neither. All three support guarded writes.
 *
 * @example
 * ```ts
 * const store = createMemoryStore({ tier: "batch", seed: { "account:a": { balance: 10 } } });
 * ```
 */
export function createMemoryStore(options: MemoryStoreOptions): MemoryStore {
  const data = new Map<string, MemoryDoc>(
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

  const rootHandle = makeHandle(
    async (key) => data.get(key),
    () => [...data.entries()],
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
      const overlay = new Map<string, MemoryDoc | null>();
      const writes: MemoryWrite[] = [];
      const view = (key: string) =>
        overlay.has(key) ? (overlay.get(key) ?? undefined) : data.get(key);
      const tx = makeHandle(
        async (key) => view(key),
        () => {
          const keys = new Set([...data.keys(), ...overlay.keys()]);
          return [...keys].flatMap((k) => {
            const doc = view(k);
            return doc === undefined ? [] : [[k, doc] as [string, MemoryDoc]];
          });
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
      for (const [key, doc] of overlay) {
        if (doc === null) data.delete(key);
        else data.set(key, doc);
      }
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
      const overlay = new Map<string, MemoryDoc | null>();
      const view = (key: string) =>
        overlay.has(key) ? (overlay.get(key) ?? undefined) : data.get(key);
      // Guards are checked in order against the state the earlier writes leave, as Redis and D1 do.
      const results: MemoryWriteResult[] = [];
      for (const [index, write] of writes.entries()) {
        if (!guardHolds(view(write.key), write)) {
          throw new StoreError(
            "conflict",
            `The guard of batch write #${index} (${write.key}) did not hold; nothing was applied.`,
            { index },
          );
        }
        results.push(applyToView(view, overlay, write));
      }
      for (const [key, doc] of overlay) {
        if (doc === null) data.delete(key);
        else data.set(key, doc);
      }
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
        [...data.entries()].map(([k, v]) => [k, { value: clone(v.value), version: v.version }]),
      ),
    get writeCount() {
      return writeCount;
    },
  };
  return memory;
}

function makeHandle(
  get: (key: string) => Promise<MemoryDoc | undefined>,
  entries: () => [string, MemoryDoc][],
  apply: (write: MemoryWrite) => Promise<MemoryWriteResult>,
): MemoryHandle {
  return Object.freeze({
    get: async (key: string) => {
      const doc = await get(key);
      return doc === undefined ? undefined : { value: clone(doc.value), version: doc.version };
    },
    list: async (prefix = "") =>
      entries()
        .filter(([k]) => k.startsWith(prefix))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, doc]) => ({ key, value: clone(doc.value), version: doc.version })),
    apply,
    put: (key: string, value: unknown, ifVersion?: number | "absent") =>
      apply(memoryPut(key, value, ifVersion)),
    delete: (key: string, ifVersion?: number) => apply(memoryDelete(key, ifVersion)),
  });
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return raceAbort(
    promise,
    signal,
    () => new StoreError("not_committed", "Aborted before it was applied."),
  );
}

function guardHolds(doc: MemoryDoc | undefined, write: MemoryWrite): boolean {
  if (write.ifVersion === undefined) return true;
  if (write.ifVersion === "absent") return doc === undefined;
  return doc?.version === write.ifVersion;
}

function applyTo(data: Map<string, MemoryDoc>, write: MemoryWrite): MemoryWriteResult {
  const overlay = new Map<string, MemoryDoc | null>();
  const result = applyToView((k) => data.get(k), overlay, write);
  for (const [key, doc] of overlay) {
    if (doc === null) data.delete(key);
    else data.set(key, doc);
  }
  return result;
}

function applyToView(
  view: (key: string) => MemoryDoc | undefined,
  overlay: Map<string, MemoryDoc | null>,
  write: MemoryWrite,
): MemoryWriteResult {
  const current = view(write.key);
  if (!guardHolds(current, write)) return { affected: 0, version: current?.version ?? null };
  if (write.op === "delete") {
    if (current === undefined) return { affected: 0, version: null };
    overlay.set(write.key, null);
    return { affected: 1, version: null };
  }
  const version = (current?.version ?? 0) + 1;
  overlay.set(write.key, { value: clone(write.value), version });
  return { affected: 1, version };
}

function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
