export type { MemoryHandle } from "./memory-handle.js";
export {
  createMemoryStore,
  type MemoryFaultPoint,
  type MemoryStore,
  type MemoryStoreOptions,
  type MemoryTier,
} from "./memory-store.js";
export {
  type MemoryDoc,
  type MemoryWrite,
  type MemoryWriteResult,
  memoryDelete,
  memoryPut,
} from "./memory-write.js";
