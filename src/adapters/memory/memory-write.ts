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

/**
 * Pending changes over the committed documents, by key: a document, or `null` for a deletion. A
 * transaction or batch writes here first so that nothing of it is visible until it commits.
 */
export type MemoryOverlay = Map<string, MemoryDoc | null>;

/** Whether `write`'s guard holds against `doc` (an unguarded write always holds). */
export function guardHolds(doc: MemoryDoc | undefined, write: MemoryWrite): boolean {
  if (write.ifVersion === undefined) return true;
  if (write.ifVersion === "absent") return doc === undefined;
  return doc?.version === write.ifVersion;
}

/** Applies one write to `overlay`, reading the current state through `view`. */
export function applyToView(
  view: (key: string) => MemoryDoc | undefined,
  overlay: MemoryOverlay,
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

/** Reads a document as an overlay's pending changes leave it. */
export function overlayView(
  data: ReadonlyMap<string, MemoryDoc>,
  overlay: MemoryOverlay,
): (key: string) => MemoryDoc | undefined {
  return (key) => (overlay.has(key) ? (overlay.get(key) ?? undefined) : data.get(key));
}

/** Applies one write straight to the committed documents. */
export function applyTo(data: Map<string, MemoryDoc>, write: MemoryWrite): MemoryWriteResult {
  const overlay: MemoryOverlay = new Map();
  const result = applyToView((k) => data.get(k), overlay, write);
  commitOverlay(data, overlay);
  return result;
}

/** Makes an overlay's pending changes part of the committed documents. */
export function commitOverlay(data: Map<string, MemoryDoc>, overlay: MemoryOverlay): void {
  for (const [key, doc] of overlay) {
    if (doc === null) data.delete(key);
    else data.set(key, doc);
  }
}

/**
 * A deep copy through JSON, so no caller can change a stored document through a reference it kept
 * or was handed, and values behave as they would after a round trip through a real store.
 */
export function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
