import type { MemoryStore } from "../../adapters/memory/index.js";
import { StoreError } from "../../index.js";
import type { Contribution, Handoff } from "./model.js";
import type { ContributionStore, HandoffStore } from "./ports.js";

/**
 * Writes `value` under `key` unless the key already holds a document; resolves to what the key
 * holds afterwards (`value` itself when it was written), so a repeated put returns the first one.
 */
async function putIfAbsent<T>(handle: unknown, key: string, value: T): Promise<T> {
  const h = handle as MemoryStore["handle"];
  const written = await h.put(key, value, "absent");
  if (written.affected === 1) return value;
  return (await h.get(key))?.value as T;
}

/** Contributions in a memory store, one document each, written only if absent. */
export function memoryContributionStore(store: MemoryStore): ContributionStore {
  const key = (cid: string) => `contribution:${cid}`;
  return {
    store,
    put: (handle, contribution) => putIfAbsent(handle, key(contribution.cid), contribution),
    get: async (handle, cid) =>
      (await (handle as MemoryStore["handle"]).get(key(cid)))?.value as Contribution | undefined,
    list: async (handle) =>
      (await (handle as MemoryStore["handle"]).list("contribution:")).map(
        (d) => d.value as Contribution,
      ),
  };
}

/** Handoffs in a memory store, one document each, written only if absent. */
export function memoryHandoffStore(store: MemoryStore): HandoffStore {
  const key = (id: string) => `handoff:${id}`;
  const all = async (handle: unknown) =>
    (await (handle as MemoryStore["handle"]).list("handoff:")).map((d) => d.value as Handoff);
  return {
    store,
    put: async (handle, handoff) => {
      const existing = await putIfAbsent(handle, key(handoff.handoffId), handoff);
      if (existing.sourceCid !== handoff.sourceCid || existing.toRole !== handoff.toRole) {
        throw new StoreError(
          "conflict",
          `Handoff "${handoff.handoffId}" exists for another contribution or role.`,
        );
      }
      return existing;
    },
    listBySource: async (handle, cid) => (await all(handle)).filter((h) => h.sourceCid === cid),
    list: all,
  };
}
