import { beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type D1SagaLog,
  type D1Store,
  d1SagaLog,
  d1Store,
} from "../../../src/adapters/d1/index.js";
import { createMemoryStore, memoryPut } from "../../../src/adapters/memory/index.js";
import { committed, createRunner, defineSaga, explain, notCommitted } from "../../../src/index.js";
import { SagaLogError } from "../../../src/log/saga-log.js";
import { LockstepDefinitionError } from "../../../src/model/definition-error.js";
import { SagaStatus } from "../../../src/model/records.js";
import { sagaRecord, stepEntry } from "../../conformance/saga-log.js";
import { openScope, storeFailure } from "../../conformance/transaction.js";
import { testD1 } from "./d1-test.js";

const NOW = 1_700_000_000_500;
let runs = 0;

/** Whether `error` or anything in its cause chain is the log's refusal `reason`. */
function refusedAs(error: unknown, reason: string): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 16 && current !== undefined && current !== null; depth++) {
    if (SagaLogError.is(current) && current.reason === reason) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

describe("batch co-commit: a d1Store step and its log records in one D1 batch", () => {
  let store: D1Store;
  let log: D1SagaLog;
  let orders: string;

  const orderIds = async () =>
    (await store.handle.all<{ id: string }>(`SELECT id FROM ${orders} ORDER BY id`)).map(
      (r) => r.id,
    );

  beforeEach(async () => {
    const db = await testD1();
    const prefix = `cc${++runs}_`;
    orders = `${prefix}orders`;
    store = d1Store(db, { id: "orders-d1", tablePrefix: prefix });
    log = d1SagaLog(db, { store, tablePrefix: prefix });
    await store.handle.run(
      `CREATE TABLE ${orders} (id TEXT PRIMARY KEY, amount INTEGER NOT NULL CHECK (amount > 0))`,
    );
  });

  it("applies the business write and the log record together", async () => {
    await log.create(sagaRecord("saga-1"));
    await store.deferredBatch(async (batch) => {
      void batch.run(`INSERT INTO ${orders} (id, amount) VALUES ('o-1', 5)`);
      await log.coCommit.write(batch, "saga-1", 1, {
        entries: [stepEntry("reserve", "committed", { output: { id: "o-1" }, via: "co_commit" })],
        status: SagaStatus.Completed,
        now: NOW,
      });
    }, openScope().scope);
    expect(await orderIds()).toEqual(["o-1"]);
    const snapshot = await log.load("saga-1");
    expect(snapshot?.record.status).toBe(SagaStatus.Completed);
    expect(snapshot?.entries.map((e) => [e.seq, e.type])).toEqual([[1, "committed"]]);
  });

  it("a token that goes stale after the records were planned makes the whole batch apply nothing", async () => {
    await log.create(sagaRecord("saga-1", { leaseExpiresAt: NOW }));
    const error = await store
      .deferredBatch(async (batch) => {
        void batch.run(`INSERT INTO ${orders} (id, amount) VALUES ('o-1', 5)`);
        await log.coCommit.write(batch, "saga-1", 1, {
          entries: [stepEntry("reserve", "committed")],
          now: NOW,
        });
        // A recoverer takes the saga over before the batch is sent: the runner is now a zombie.
        expect(await log.acquireLease("saga-1", "recoverer", 1_000, NOW + 1)).toBe(2);
      }, openScope().scope)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(refusedAs(error, "stale_token")).toBe(true);
    expect(await orderIds(), "a zombie runner's business write must not land").toEqual([]);
    expect((await log.load("saga-1"))?.entries).toEqual([]);
  });

  it("a business write D1 refuses leaves the log record unwritten too", async () => {
    await log.create(sagaRecord("saga-1"));
    const error = await storeFailure(
      store.deferredBatch(async (batch) => {
        void batch.run(`INSERT INTO ${orders} (id, amount) VALUES ('o-1', -5)`);
        await log.coCommit.write(batch, "saga-1", 1, {
          entries: [stepEntry("reserve", "committed")],
          status: SagaStatus.Completed,
          now: NOW,
        });
      }, openScope().scope),
    );
    expect(error.kind).toBe("not_committed");
    expect(await orderIds()).toEqual([]);
    const snapshot = await log.load("saga-1");
    expect(snapshot?.record.status).toBe(SagaStatus.Running);
    expect(snapshot?.entries).toEqual([]);
  });

  it("a co-committed creation whose saga id is taken applies nothing of its batch and is refused as exists", async () => {
    await log.create(sagaRecord("saga-1"));
    const error = await store
      .deferredBatch(async (batch) => {
        void batch.run(`INSERT INTO ${orders} (id, amount) VALUES ('o-1', 5)`);
        await log.coCommit.create(batch, sagaRecord("saga-1", { input: { other: true } }), [
          stepEntry("reserve", "committed", { via: "co_commit" }),
        ]);
      }, openScope().scope)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(refusedAs(error, "exists")).toBe(true);
    expect(await orderIds(), "the business write must not land").toEqual([]);
    const kept = await log.load("saga-1");
    expect(kept?.record.input, "the first saga is kept").toEqual({ orderId: "o-1", amount: 30 });
    expect(kept?.entries).toEqual([]);
  });

  it("a business write's own unique violation in a creating batch is not taken for a taken saga id", async () => {
    await store.handle.run(`INSERT INTO ${orders} (id, amount) VALUES ('o-1', 5)`);
    const error = await storeFailure(
      store.deferredBatch(async (batch) => {
        void batch.run(`INSERT INTO ${orders} (id, amount) VALUES ('o-1', 6)`);
        await log.coCommit.create(batch, sagaRecord("saga-1"), [
          stepEntry("reserve", "committed", { via: "co_commit" }),
        ]);
      }, openScope().scope),
    );
    expect(error.kind).toBe("not_committed");
    expect(refusedAs(error, "exists")).toBe(false);
    expect(error.message).toContain(`${orders}.id`);
    expect(await log.load("saga-1"), "the saga is not created").toBeUndefined();
  });

  it("refuses the root handle, naming it, and writes nothing", async () => {
    await log.create(sagaRecord("saga-1"));
    await expect(
      log.coCommit.write(store.handle, "saga-1", 1, { status: SagaStatus.Completed, now: NOW }),
    ).rejects.toBeInstanceOf(LockstepDefinitionError);
    expect((await log.load("saga-1"))?.record.status).toBe(SagaStatus.Running);
  });

  function orderSaga(onPlace?: () => Promise<void>) {
    const mail = createMemoryStore({ id: "mail", tier: "plain" });
    const saga = defineSaga("d1-order", { input: z.object({ id: z.string() }) })
      .step("hold", {
        store: mail,
        kind: "compensatable",
        output: z.object({ held: z.boolean() }),
        execute: async ({ input, handle }) => {
          await handle.apply(memoryPut(`hold:${input.id}`, "held"));
          return { held: true };
        },
        probe: async () => committed({ held: true }),
        compensate: async () => ({ status: "compensated" as const }),
      })
      .step("reserve", {
        store,
        kind: "compensatable",
        output: z.object({ id: z.string() }),
        execute: async ({ input, handle }) => {
          void handle.run(`INSERT INTO ${orders} (id, amount) VALUES (?, 5)`, [`${input.id}-r`]);
          return { id: `${input.id}-r` };
        },
        probe: async ({ input, handle }) =>
          (await handle.first(`SELECT id FROM ${orders} WHERE id = ?`, [`${input.id}-r`]))
            ? committed({ id: `${input.id}-r` })
            : notCommitted(),
        compensate: async ({ output, handle }) => {
          await handle.run(`DELETE FROM ${orders} WHERE id = ?`, [output.id]);
          return { status: "compensated" as const };
        },
      })
      .step("place", {
        store,
        kind: "pivot",
        output: z.object({ id: z.string() }),
        execute: async ({ input, handle }) => {
          await onPlace?.();
          void handle.batch([
            { sql: `INSERT INTO ${orders} (id, amount) VALUES (?, 7)`, params: [input.id] },
          ]);
          return { id: input.id };
        },
        probe: async ({ input, handle }) =>
          (await handle.first(`SELECT id FROM ${orders} WHERE id = ?`, [input.id]))
            ? committed({ id: input.id })
            : notCommitted(),
      })
      .step("notify", {
        store: mail,
        kind: "retriable",
        output: z.object({ sent: z.boolean() }),
        execute: async ({ input, handle }) => {
          await handle.apply(memoryPut(`mail:${input.id}`, "sent"));
          return { sent: true };
        },
        probe: async () => committed({ sent: true }),
      })
      .build();
    return { saga, mail };
  }

  it("explain reports the D1 steps as batch_co_committed, in one batch", () => {
    const plan = explain(orderSaga().saga, { log });
    expect(plan.steps.map((s) => s.strategy)).toEqual([
      "saga",
      "batch_co_committed",
      "batch_co_committed",
      "saga",
    ]);
    expect(plan.steps[1]?.inDoubt).toBe("none");
    expect(plan.transactions).toEqual([["reserve", "place"]]);
    expect(plan.steps[1]?.guarantee).toContain("one atomic batch");
  });

  it("a saga runs its D1 steps in one batch with their records, and reports them so", async () => {
    const runner = createRunner({ log });
    const result = await runner.run(orderSaga().saga, { id: "o-7" }, { sagaId: "saga-7" });
    const report = result._unsafeUnwrap();
    expect(report.status).toBe("completed");
    expect(report.steps.map((s) => s.strategy)).toEqual([
      "saga",
      "batch_co_committed",
      "batch_co_committed",
      "saga",
    ]);
    expect(await orderIds()).toEqual(["o-7", "o-7-r"]);
    const entries = (await log.load("saga-7"))?.entries ?? [];
    expect(entries.filter((e) => e.via === "co_commit").map((e) => e.step)).toEqual([
      "reserve",
      "place",
    ]);
    expect(
      entries.some((e) => e.type === "intent" && (e.step === "reserve" || e.step === "place")),
      "a co-committed step logs no intent",
    ).toBe(false);
  });

  it("a runner whose lease is taken while its steps run writes none of them", async () => {
    const runner = createRunner({ log, leaseTtlMs: 1_000, retry: { attempts: 1 } });
    const { saga } = orderSaga(async () => {
      // Another worker takes the saga over (its lease is forced free first).
      await store.handle.run(
        `UPDATE "${"cc"}${runs}_sagas" SET lease_expires_at = 0 WHERE saga_id = 'saga-8'`,
      );
      expect(await log.acquireLease("saga-8", "thief", 60_000, Date.now())).toBeGreaterThan(1);
    });
    const result = await runner.run(saga, { id: "o-8" }, { sagaId: "saga-8" });
    expect(result._unsafeUnwrapErr().code).toBe("lease_lost");
    expect((await log.load("saga-8"))?.record.leaseOwner, "the thief owns the saga").toBe("thief");
    expect(await orderIds(), "no write of a fenced-out batch may land").toEqual([]);
  });
});
