import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type PostgresSagaLog,
  type PostgresStore,
  postgresSagaLog,
  postgresStore,
} from "../../../src/adapters/postgres/index.js";
import {
  committed,
  createRunner,
  defineSaga,
  notCommitted,
  type SagaEvent,
} from "../../../src/index.js";
import { type CommitGate, installCommitGate } from "./commit-gate.js";
import {
  openDatabase,
  openPool,
  openSchema,
  type TestDatabase,
  type TestSchema,
} from "./pg-test.js";
import { type CuttingProxy, startCuttingProxy } from "./tcp-proxy.js";

/**
 * place (pivot: one transaction on the shop database, probed by reading the order back) → receipt
 * (retriable, idempotent by its key). The log lives in a database of its own, so `place` is an
 * ordinary saga step: when its COMMIT is lost, only the probe can say what happened.
 */
function orderSaga(shop: PostgresStore) {
  return defineSaga("order", { input: z.object({ orderId: z.string() }) })
    .step("place", {
      store: shop,
      kind: "pivot",
      output: z.object({ orderId: z.string() }),
      execute: ({ input, key, signal, deadline }) =>
        shop.transaction(
          async (tx) => {
            await tx.query("INSERT INTO orders (id, step_key) VALUES ($1, $2)", [
              input.orderId,
              key,
            ]);
            return { orderId: input.orderId };
          },
          { signal, deadline },
        ),
      probe: async ({ input, key, handle }) => {
        const { rows } = await handle.query<{ step_key: string }>(
          "SELECT step_key FROM orders WHERE id = $1",
          [input.orderId],
        );
        return rows[0]?.step_key === key ? committed({ orderId: input.orderId }) : notCommitted();
      },
    })
    .step("receipt", {
      store: shop,
      kind: "retriable",
      output: z.object({ receipt: z.string() }),
      execute: async ({ input, key, handle }) => {
        await handle.query(
          "INSERT INTO receipts (key, order_id) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
          [key, input.orderId],
        );
        return { receipt: key };
      },
    })
    .build();
}

describe("a step whose COMMIT is lost is settled by its probe", () => {
  let logDb: TestDatabase;
  let shopDb: TestSchema;
  let log: PostgresSagaLog;
  let events: SagaEvent[];

  const shopRows = async () => {
    const orders = await shopDb.admin.query(`SELECT id FROM "${shopDb.schema}".orders`);
    const receipts = await shopDb.admin.query(`SELECT key FROM "${shopDb.schema}".receipts`);
    return { orders: orders.rows.length, receipts: receipts.rows.length };
  };

  const placeEntries = async (sagaId: string) =>
    ((await log.load(sagaId))?.entries ?? [])
      .filter((e) => e.step === "place")
      .map((e) => [e.type, e.attempt, e.via ?? null]);

  beforeEach(async () => {
    logDb = await openDatabase();
    shopDb = await openSchema();
    log = postgresSagaLog(logDb.pool);
    await shopDb.pool.query("CREATE TABLE orders (id text PRIMARY KEY, step_key text NOT NULL)");
    await shopDb.pool.query("CREATE TABLE receipts (key text PRIMARY KEY, order_id text NOT NULL)");
    events = [];
  });

  afterEach(async () => {
    await shopDb.close();
    await logDb.close();
  });

  describe("when the backend is terminated during COMMIT", () => {
    let gate: CommitGate;

    beforeEach(async () => {
      gate = await installCommitGate(shopDb.admin, `"${shopDb.schema}"."orders"`);
    });

    afterEach(() => gate.open());

    it("the outcome is unknown, the probe finds nothing, and the retry commits exactly once", async () => {
      const shop = postgresStore(shopDb.pool);
      expect(shop.id, "the shop must not share the log's database").not.toBe(log.coCommit.storeId);
      const runner = createRunner({ log, onEvent: (event) => events.push(event) });
      await gate.close();
      const running = runner.run(orderSaga(shop), { orderId: "o-1" }, { sagaId: "saga-1" });
      // The first attempt's COMMIT is now waiting inside Postgres; kill its backend right there.
      await gate.terminate(await gate.blockedCommit(shopDb.schema));
      await gate.open();
      const report = (await running)._unsafeUnwrap();

      const unknown = events.find((e) => e.type === "step.unknown");
      expect(unknown, "a COMMIT lost with its connection must be unknown").toMatchObject({
        step: "place",
        attempt: 1,
        kind: "unknown",
      });
      expect(events.filter((e) => e.type === "step.probed")).toMatchObject([
        { step: "place", result: "not_committed" },
      ]);
      expect(report.status).toBe("completed");
      expect(report.steps[0]).toMatchObject({
        name: "place",
        status: "committed",
        strategy: "saga",
        attempts: 2,
        committedVia: "execute",
      });
      expect(await placeEntries("saga-1"), "the log tells the same story").toEqual([
        ["intent", 1, null],
        ["unknown", 1, null],
        ["not_committed", 1, null],
        ["intent", 2, null],
        ["committed", 2, "execute"],
      ]);
      expect(await shopRows(), "the store agrees: one order, one receipt").toEqual({
        orders: 1,
        receipts: 1,
      });
    });
  });

  describe("when the answer to a COMMIT that landed is lost", () => {
    let proxy: CuttingProxy;

    beforeEach(async () => {
      proxy = await startCuttingProxy();
    });

    afterEach(() => proxy.close());

    it("the outcome is unknown, the probe finds the order, and the step is committed via the probe", async () => {
      const pool = openPool({
        connectionString: proxy.url,
        options: `-c search_path=${shopDb.schema}`,
      });
      try {
        const shop = postgresStore(pool, { id: "postgres:shop-through-proxy" });
        const runner = createRunner({ log, onEvent: (event) => events.push(event) });
        const cut = proxy.cutAfterNextCommit();
        const report = (
          await runner.run(orderSaga(shop), { orderId: "o-2" }, { sagaId: "saga-2" })
        )._unsafeUnwrap();
        await cut;
        expect(events.find((e) => e.type === "step.unknown")).toMatchObject({
          step: "place",
          attempt: 1,
        });
        expect(report.steps[0]).toMatchObject({
          name: "place",
          status: "committed",
          attempts: 1,
          committedVia: "probe",
        });
        expect(await placeEntries("saga-2")).toEqual([
          ["intent", 1, null],
          ["unknown", 1, null],
          ["committed", 1, "probe"],
        ]);
        expect(await shopRows(), "never executed twice, never compensated").toEqual({
          orders: 1,
          receipts: 1,
        });
      } finally {
        await pool.end();
      }
    });
  });
});
