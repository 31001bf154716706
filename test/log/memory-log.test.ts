import { describe, expect, it } from "vitest";
import { MemorySagaLog } from "../../src/log/memory-log.js";
import { sagaLogConformance, sagaRecord } from "../conformance/saga-log.js";

sagaLogConformance("MemorySagaLog", async () => ({
  log: new MemorySagaLog(),
  close: async () => {},
}));

describe("MemorySagaLog's refusals", () => {
  it("name the saga: one created twice, one it does not hold", async () => {
    const log = new MemorySagaLog();
    await log.create(sagaRecord("s-1"));
    await expect(log.create(sagaRecord("s-1"))).rejects.toMatchObject({
      reason: "exists",
      message: 'A saga with id "s-1" already exists in the log.',
    });
    await expect(log.write("s-2", 1, { now: 1 })).rejects.toMatchObject({
      reason: "not_found",
      message: 'No saga with id "s-2" exists in the log.',
    });
  });
});
