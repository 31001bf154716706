import {
  createMemoryStore,
  type MemoryHandle,
  type MemoryTier,
  type MemoryWrite,
  type MemoryWriteResult,
  memoryDelete,
  memoryPut,
} from "../../src/adapters/memory/index.js";
import { StoreError } from "../../src/core/error-kinds.js";
import { atomicBatchConformance } from "./atomic-batch.js";
import { conditionalWriteConformance } from "./conditional-write.js";

// The reference stores: they prove the suites ask only what the core relies on.

const TIERS: readonly MemoryTier[] = ["transactional", "batch", "plain"];

for (const tier of TIERS) {
  conditionalWriteConformance<MemoryHandle, MemoryWrite, MemoryWriteResult, number>(
    `memory store (${tier} tier)`,
    async () => {
      const store = createMemoryStore({ tier });
      return {
        store,
        put: (key, value, ifVersion) => memoryPut(key, value, ifVersion),
        remove: (key, ifVersion) => memoryDelete(key, ifVersion),
        read: async (key) => store.handle.get(key),
        close: async () => {},
      };
    },
  );
}

atomicBatchConformance<MemoryHandle, MemoryWrite, MemoryWriteResult, number>(
  "memory store (batch tier)",
  async () => {
    const store = createMemoryStore({ tier: "batch" });
    const refused = new Set<string>();
    store.faults = (point) => {
      if (point.phase === "before" && refused.has(point.write.key)) {
        throw new StoreError("not_committed", `The store refuses writes to "${point.write.key}".`);
      }
    };
    return {
      store,
      put: (key, value, ifVersion) => memoryPut(key, value, ifVersion),
      versionOf: (result) => result.version,
      read: async (key) => store.handle.get(key),
      refuse: async (key) => {
        refused.add(key);
      },
      close: async () => {},
    };
  },
);
