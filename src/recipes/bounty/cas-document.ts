import type { MemoryHandle } from "../../adapters/memory/index.js";
import { StoreError } from "../../index.js";

/** How many times a document compare-and-set is retried when another writer got there first. */
const CAS_ATTEMPTS = 32;

/**
 * Reads a document, computes its next value and writes it back guarded by the version read,
 * retrying when another writer moved it in between. `next` returns `undefined` to write nothing.
 */
export async function updateDocument<T, R>(
  handle: MemoryHandle,
  key: string,
  next: (current: T | undefined) => { readonly value: T | undefined; readonly result: R },
): Promise<R> {
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const doc = await handle.get(key);
    const { value, result } = next(doc?.value as T | undefined);
    if (value === undefined) return result;
    const written = await handle.put(key, value, doc?.version ?? "absent");
    if (written.affected === 1) return result;
  }
  throw new StoreError(
    "transient",
    `Document "${key}" kept changing under ${CAS_ATTEMPTS} attempts to update it.`,
  );
}

/** Throws the error of a compare-and-set that lost: not applied, and retrying will not help. */
export function conflict(message: string): never {
  throw new StoreError("conflict", message);
}

/** Throws the error of a request the current state refuses: not applied. */
export function rejected(message: string): never {
  throw new StoreError("not_committed", message);
}
