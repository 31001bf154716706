import { describe, expect, it, onTestFinished } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  AttentionReason,
  committed,
  createRunner,
  defineSaga,
  ErrorCode,
  LockstepDefinitionError,
  MemorySagaLog,
  notCommitted,
  OutboxStatus,
  type SagaLog,
  SagaStatus,
} from "../../src/index.js";
import { checkoutSaga, ORDER_DBS, OUTBOX_LOGS } from "./outbox-world.js";

function circular(): unknown {
  const value: Record<string, unknown> = { n: 1 };
  value.self = value;
  return value;
}

const UNSERIALISABLE = [
  {
    name: "a BigInt",
    make: (t: number) => BigInt(t),
    path: "`publish()[0].message.total`: a BigInt",
  },
  {
    name: "a circular value",
    make: () => circular(),
    path: "`publish()[0].message.total.self`: a circular reference",
  },
  {
    name: "a function",
    make: () => () => 1,
    path: "`publish()[0].message.total`: a function cannot be stored as JSON",
  },
  {
    name: "a Map",
    make: (t: number) => new Map([["total", t]]),
    path: "`publish()[0].message.total`: a Map (JSON keeps none of its entries)",
  },
  {
    name: "NaN",
    make: () => Number.NaN,
    path: "`publish()[0].message.total`: NaN cannot be stored as JSON",
  },
] as const;

describe("messages of a co-committed step are recorded in the step's own transaction", () => {
  let cases = 0;
  for (const open of ORDER_DBS) {
    it(`${open.name}: the order row and its message commit together, with a stable id`, async () => {
      const orders = await open();
      onTestFinished(() => orders.close());
      cases++;
      const runner = createRunner({ log: orders.log });
      const result = await runner.run(
        checkoutSaga(orders),
        { orderId: "o-1", total: 42 },
        { sagaId: "s-1" },
      );
      expect(result.isOk(), "the checkout must complete").toBe(true);
      expect(result._unsafeUnwrap().steps[0]?.strategy).toBe("co_committed");
      const messages = await orders.log.outbox?.messages();
      expect(messages?.map((m) => [m.messageId, m.topic, m.status, m.message])).toEqual([
        ["s-1:place:0", "orders.placed", OutboxStatus.Pending, { orderId: "o-1", total: 42 }],
      ]);
      expect(await orders.count()).toBe(1);
    });

    for (const bad of UNSERIALISABLE) {
      it(`${open.name}: ${bad.name} in a message is refused before the transaction commits: no order, no message`, async () => {
        const orders = await open();
        onTestFinished(() => orders.close());
        cases++;
        const runner = createRunner({ log: orders.log });
        const result = await runner.run(checkoutSaga(orders, bad.make), {
          orderId: "o-2",
          total: 7,
        });
        expect(result.isErr()).toBe(true);
        const error = result._unsafeUnwrapErr();
        expect(error.code).toBe(ErrorCode.NeedsAttention);
        expect(error.message).toContain(bad.path);
        expect("report" in error && error.report?.attention?.reason).toBe(
          AttentionReason.InvalidOutput,
        );
        expect(
          await orders.count(),
          "the step's write must roll back with the refused message",
        ).toBe(0);
        expect(await orders.log.outbox?.messages()).toEqual([]);
      });
    }
  }
  it("ran every case", () => expect(cases).toBe(ORDER_DBS.length * (1 + UNSERIALISABLE.length)));
});

/** A pivot on a memory store (never co-committed) that publishes; its response can be lost. */
function shipSaga(options: { lost?: boolean; body?: () => unknown } = {}) {
  const store = createMemoryStore({ id: "shipping", tier: "plain" });
  const saga = defineSaga("ship", { input: z.object({ id: z.string() }) })
    .step("ship", {
      store,
      kind: "pivot",
      output: z.object({ parcel: z.string() }),
      retry: { attempts: 1 },
      execute: async ({ input, handle }) => {
        await handle.put(`parcel:${input.id}`, { id: input.id }, "absent");
        if (options.lost) throw new Error("the response was lost");
        return { parcel: `p-${input.id}` };
      },
      probe: async ({ input, handle }) =>
        (await handle.get(`parcel:${input.id}`)) === undefined
          ? notCommitted()
          : committed({ parcel: `p-${input.id}` }),
      publish: ({ output, input }) => [
        { topic: "parcels.shipped", message: options.body?.() ?? { parcel: output.parcel } },
        { topic: "audit", message: { id: input.id }, headers: { source: "ship" } },
      ],
    })
    .build();
  return { store, saga };
}

describe("messages of a step that does not co-commit ride with the log write of its commit", () => {
  let cases = 0;
  for (const { name, open } of OUTBOX_LOGS) {
    for (const lost of [false, true]) {
      const via = lost ? "found by the probe after a lost response" : "returned by execute";
      it(`${name}: a commit ${via} records its messages once, in order`, async () => {
        const { log, close } = await open();
        onTestFinished(close);
        cases++;
        const { saga } = shipSaga({ lost });
        const result = await createRunner({ log }).run(saga, { id: "a" }, { sagaId: "s-2" });
        expect(result.isOk()).toBe(true);
        const messages = (await log.outbox?.messages({ sagaId: "s-2" })) ?? [];
        expect(messages.map((m) => [m.messageId, m.topic, m.headers])).toEqual([
          ["s-2:ship:0", "parcels.shipped", {}],
          ["s-2:ship:1", "audit", { source: "ship" }],
        ]);
        const snapshot = await log.load("s-2");
        expect(snapshot?.record.status).toBe(SagaStatus.Completed);
      });
    }
    it(`${name}: a message JSON cannot hold is refused naming it, and nothing is recorded`, async () => {
      const { log, close } = await open();
      onTestFinished(close);
      cases++;
      const { saga } = shipSaga({ body: () => ({ weight: 3n }) });
      const result = await createRunner({ log }).run(saga, { id: "b" });
      const error = result._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.NeedsAttention);
      expect(error.message).toContain(
        "`publish()[0].message.weight`: a BigInt cannot be stored as JSON",
      );
      expect(await log.outbox?.messages()).toEqual([]);
    });
  }
  it("ran every case", () => expect(cases).toBe(OUTBOX_LOGS.length * 3));
});

describe("publishing is refused where its messages could be lost or undone", () => {
  it("a compensatable step that publishes is refused at definition time", () => {
    const store = createMemoryStore({ id: "s", tier: "plain" });
    expect(() =>
      defineSaga("bad", { input: z.object({}) }).step("hold", {
        store,
        kind: "compensatable",
        output: z.object({}),
        execute: () => ({}),
        probe: () => notCommitted(),
        compensate: async () => ({ status: "compensated" }) as const,
        publish: () => [{ topic: "t", message: 1 }],
      }),
    ).toThrow(/compensatable but publishes outbox messages/);
  });

  it("a saga that publishes is refused, before anything is written, on a log without an outbox", async () => {
    const inner = new MemorySagaLog();
    const { outbox: _outbox, ...rest } = Object.fromEntries(
      [
        "create",
        "write",
        "acquireLease",
        "renewLease",
        "releaseLease",
        "load",
        "claimRecoverable",
        "quarantine",
        "list",
        "prune",
      ].map((k) => [
        k,
        (inner as unknown as Record<string, (...a: unknown[]) => unknown>)[k]?.bind(inner),
      ]),
    ) as Record<string, unknown>;
    const log = rest as unknown as SagaLog;
    const { saga, store } = shipSaga();
    expect(() => createRunner({ log }).run(saga, { id: "c" })).toThrow(LockstepDefinitionError);
    expect(() => createRunner({ log }).run(saga, { id: "c" })).toThrow(/has no outbox/);
    expect(inner.size).toBe(0);
    expect(await store.handle.get("parcel:c")).toBeUndefined();
  });
});
