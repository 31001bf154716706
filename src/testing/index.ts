export { CrashSwitch, SimulatedCrash } from "./crash-switch.js";
export {
  createMemoryStore,
  type MemoryDoc,
  type MemoryFaultPoint,
  type MemoryHandle,
  type MemoryStore,
  type MemoryStoreOptions,
  type MemoryTier,
  type MemoryWrite,
  type MemoryWriteResult,
  memoryDelete,
  memoryPut,
} from "./memory-store.js";
export { VirtualClock } from "./virtual-clock.js";
