import { MemorySagaLog } from "../../src/log/memory-log.js";
import { sagaLogConformance } from "../conformance/saga-log.js";

sagaLogConformance("MemorySagaLog", async () => ({
  log: new MemorySagaLog(),
  close: async () => {},
}));
