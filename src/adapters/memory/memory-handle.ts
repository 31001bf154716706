import {
  clone,
  type MemoryDoc,
  type MemoryWrite,
  type MemoryWriteResult,
  memoryDelete,
  memoryPut,
} from "./memory-write.js";

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

/**
 * Builds a handle over a view of the documents: the committed ones for the root handle, a
 * transaction's overlay over them for a transaction's handle. Every document it returns is a copy.
 */
export function createMemoryHandle(
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
