import { describe, expect, it } from "vitest";
import { explain, MemorySagaLog, type SagaLog } from "../../src/index.js";
import { checkoutSaga, sqliteOrders } from "../outbox/outbox-world.js";

describe("explain: outbox steps", () => {
  it("says where a co-committed step's messages are recorded and how they are relayed", async () => {
    const orders = await sqliteOrders();
    try {
      const plan = explain(checkoutSaga(orders), { log: orders.log });
      const place = plan.steps[0];
      expect(place?.outbox).toMatchObject({
        recorded: "co_committed",
        firstMessageId: "<sagaId>:place:0",
      });
      expect(place?.notes.join(" ")).toContain("recorded in the same transaction as its writes");
      expect(place?.notes.join(" ")).toContain(
        "at least once with a stable id (<sagaId>:place:0, …)",
      );
    } finally {
      await orders.close();
    }
  });

  it("says the messages ride with the commit's log write when the step does not co-commit", async () => {
    const orders = await sqliteOrders();
    try {
      const plan = explain(checkoutSaga(orders), { log: new MemorySagaLog() });
      expect(plan.steps[0]?.outbox?.recorded).toBe("with_commit");
    } finally {
      await orders.close();
    }
  });

  it("says a log without an outbox cannot run the saga", async () => {
    const orders = await sqliteOrders();
    try {
      const { outbox: _o, ...noOutbox } = { ...orders.log, write: orders.log.write } as SagaLog;
      const plan = explain(checkoutSaga(orders), { log: noOutbox as SagaLog });
      expect(plan.steps[0]?.outbox?.recorded).toBe("unsupported");
      expect(plan.steps[0]?.notes.join(" ")).toContain("refuses to start this saga");
    } finally {
      await orders.close();
    }
  });
});
