/**
 * A document in a memory store, with the version every write increments. A key's versions never
 * repeat: a document created where another was deleted continues from the deleted one's version.
 */
export interface MemoryDoc {
  readonly value: unknown;
  readonly version: number;
}

/**
 * What a deletion leaves under its key: the version the document had. The key's next document
 * continues after it, so a guard written against the deleted document can never match its
 * successor (the ABA problem a guarded compensation must not fall into).
 */
export interface MemoryTombstone {
  readonly deletedAt: number;
}

/** What a key holds: a document, or the tombstone of a deleted one. */
export type MemorySlot = MemoryDoc | MemoryTombstone;

/** The document in `slot`, or `undefined` for none or a tombstone. */
export function docOf(slot: MemorySlot | undefined): MemoryDoc | undefined {
  return slot === undefined || "deletedAt" in slot ? undefined : slot;
}

/** The last version `slot`'s key was given, 0 for a key never written. */
function lastVersion(slot: MemorySlot | undefined): number {
  if (slot === undefined) return 0;
  return "deletedAt" in slot ? slot.deletedAt : slot.version;
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
 * Pending changes over the committed slots, by key: a document, or a tombstone for a deletion. A
 * transaction or batch writes here first so that nothing of it is visible until it commits.
 */
export type MemoryOverlay = Map<string, MemorySlot>;

/** Whether `write`'s guard holds against `doc` (an unguarded write always holds). */
export function guardHolds(doc: MemoryDoc | undefined, write: MemoryWrite): boolean {
  if (write.ifVersion === undefined) return true;
  if (write.ifVersion === "absent") return doc === undefined;
  return doc?.version === write.ifVersion;
}

/** Applies one write to `overlay`, reading the current state through `view`. */
export function applyToView(
  view: (key: string) => MemorySlot | undefined,
  overlay: MemoryOverlay,
  write: MemoryWrite,
): MemoryWriteResult {
  const slot = view(write.key);
  const current = docOf(slot);
  if (!guardHolds(current, write)) return { affected: 0, version: current?.version ?? null };
  if (write.op === "delete") {
    if (current === undefined) return { affected: 0, version: null };
    overlay.set(write.key, { deletedAt: current.version });
    return { affected: 1, version: null };
  }
  const version = lastVersion(slot) + 1;
  overlay.set(write.key, { value: clone(write.value), version });
  return { affected: 1, version };
}

/** Reads a key's slot as an overlay's pending changes leave it. */
export function overlayView(
  data: ReadonlyMap<string, MemorySlot>,
  overlay: MemoryOverlay,
): (key: string) => MemorySlot | undefined {
  return (key) => overlay.get(key) ?? data.get(key);
}

/** Applies one write straight to the committed slots. */
export function applyTo(data: Map<string, MemorySlot>, write: MemoryWrite): MemoryWriteResult {
  const overlay: MemoryOverlay = new Map();
  const result = applyToView((k) => data.get(k), overlay, write);
  commitOverlay(data, overlay);
  return result;
}

/** Makes an overlay's pending changes part of the committed slots. */
export function commitOverlay(data: Map<string, MemorySlot>, overlay: MemoryOverlay): void {
  for (const [key, slot] of overlay) data.set(key, slot);
}

/** Every document among `slots`, by key, without the tombstones. */
export function documentsOf(
  slots: Iterable<readonly [string, MemorySlot | undefined]>,
): [string, MemoryDoc][] {
  const docs: [string, MemoryDoc][] = [];
  for (const [key, slot] of slots) {
    const doc = docOf(slot);
    if (doc !== undefined) docs.push([key, doc]);
  }
  return docs;
}

/**
 * A deep copy through JSON, so no caller can change a stored document through a reference it kept
 * or was handed, and values behave as they would after a round trip through a real store.
 */
export function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
