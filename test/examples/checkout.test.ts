import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  openSqlite,
  type SqliteHandle,
  sqliteSagaLog,
  sqliteStore,
} from "../../src/adapters/sqlite/index.js";
import { explain, OutboxStatus, type SagaLog } from "../../src/index.js";
import { createRelay } from "../../src/outbox/index.js";
import {
  type PaymentServer,
  skewedClock,
  startPaymentServer,
} from "../adapters/http-api/payment-server.js";
import { consume, createTarget, deleteTarget, openPublisher } from "../outbox/brokers.js";
import { type ProgramRun, runProgram, tsxCommand } from "../support/run-program.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const EXAMPLE = join(ROOT, "examples/checkout/checkout.ts");
const HEADING = "### A checkout: a payments API and the outbox";
const DAY = 24 * 60 * 60 * 1000;

/** The ```ts block under the README's checkout heading, exactly as written. */
function readmeCheckout(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.split(HEADING)[1]?.split(/^#{2,3} /m)[0];
  const code = section === undefined ? undefined : /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (code === undefined) throw new Error(`README.md has no \`\`\`ts block under "${HEADING}".`);
  return code;
}

let dir: string;
let file: string;
let server: PaymentServer;

/** Runs the example as a program of its own, as the README says to. */
function checkout(orderId: string): Promise<ProgramRun> {
  return runProgram(tsxCommand(EXAMPLE, orderId), {
    cwd: ROOT,
    env: { SHOP_DB: file, PAYMENTS_URL: server.baseUrl },
  });
}

/** The shop file, opened by the test beside the example's own connections. */
function shop<T>(read: (db: SqliteHandle, log: SagaLog) => Promise<T>): Promise<T> {
  const db = openSqlite(file);
  return read(
    sqliteStore(db, { id: "shop-db" }).handle,
    sqliteSagaLog(db, { coCommitWith: "shop-db" }),
  ).finally(() => db.close());
}

const row = (db: SqliteHandle, sql: string) => db.get<Record<string, unknown>>(sql);
const posts = (orderId: string) =>
  server.charges().filter((c) => c.metadata.order === orderId).length;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lockstep-checkout-"));
  file = join(dir, "shop.db");
  server = await startPaymentServer({ windowMs: DAY, clock: skewedClock() });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the README's checkout: a payments API step and the outbox", () => {
  it("is examples/checkout/checkout.ts, quoted exactly", () => {
    expect(readmeCheckout()).toBe(readFileSync(EXAMPLE, "utf8"));
  });

  it("charges once, the step key as Idempotency-Key, and records orders.confirmed with the order", async () => {
    const run = await checkout("o-1");
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe("completed\n");
    expect(run.code).toBe(0);
    expect(server.keysSent).toEqual(["checkout:o-1:charge"]);
    expect(server.charges()).toEqual([
      { id: "ch_1", amount: 4200, metadata: { lockstep_key: "checkout:o-1:charge", order: "o-1" } },
    ]);
    await shop(async (db, log) => {
      expect(await row(db, "SELECT charge_id FROM orders WHERE id = 'o-1'")).toEqual({
        charge_id: "ch_1",
      });
      expect(await row(db, "SELECT available FROM stock")).toEqual({ available: 9 });
      expect(await row(db, "SELECT sku FROM holds WHERE order_id = 'o-1'")).toEqual({
        sku: "sku-7",
      });
      expect(await log.outbox?.messages()).toMatchObject([
        {
          messageId: "checkout:o-1:confirm:0",
          topic: "orders.confirmed",
          message: { orderId: "o-1", chargeId: "ch_1", amount: 4200 },
          status: OutboxStatus.Pending,
        },
      ]);
    });
  }, 20_000);

  it("submitted again, returns the outcome recorded and sends nothing", async () => {
    const before = server.requests.length;
    const run = await checkout("o-1");
    expect(run.stdout).toBe("completed\n");
    expect(server.requests.length - before).toBe(0);
    expect(posts("o-1")).toBe(1);
  }, 20_000);

  it("a lost response is found by the probe's lookup by key: one charge, the order confirmed", async () => {
    server.fault({ type: "lose-response" });
    const run = await checkout("o-2");
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe("completed\n");
    expect(posts("o-2")).toBe(1);
    expect(server.requests).toContain(
      `GET /v1/charges/by-key/${encodeURIComponent("checkout:o-2:charge")}`,
    );
    await shop(async (db, log) => {
      expect(await row(db, "SELECT charge_id FROM orders WHERE id = 'o-2'")).toEqual({
        charge_id: "ch_2",
      });
      const entries = (await log.load("checkout:o-2"))?.entries ?? [];
      expect(
        entries.some((e) => e.step === "charge" && e.type === "committed" && e.via === "probe"),
        "the charge was settled by its probe",
      ).toBe(true);
    });
  }, 20_000);

  it("a declined card is not applied: the hold is compensated, no order, no message", async () => {
    server.fault({ type: "fail", status: 402, body: '{"error":"card_declined"}' });
    const run = await checkout("o-3");
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatch(/^step_failed: /);
    expect(posts("o-3")).toBe(0);
    await shop(async (db, log) => {
      expect(await row(db, "SELECT available FROM stock"), "the item was given back").toEqual({
        available: 8,
      });
      expect(await row(db, "SELECT sku FROM holds WHERE order_id = 'o-3'")).toBeUndefined();
      expect(await row(db, "SELECT id FROM orders WHERE id = 'o-3'")).toBeUndefined();
      expect((await log.load("checkout:o-3"))?.record.status).toBe("compensated");
      expect((await log.outbox?.messages({ sagaId: "checkout:o-3" }))?.length).toBe(0);
    });
  }, 20_000);

  it("a relay delivers every orders.confirmed to RabbitMQ, each with its stable id", async () => {
    const target = await createTarget("rabbitmq");
    const received: string[] = [];
    const consumer = await consume(target, async (id) => {
      received.push(id);
    });
    const client = await openPublisher(target);
    try {
      const pass = await shop((_db, log) =>
        createRelay({ log, publisher: client.publisher }).runOnce(),
      );
      expect(pass).toMatchObject({ claimed: 2, delivered: 2, retried: 0, dead: 0 });
      for (let i = 0; received.length < 2 && i < 400; i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(received.sort()).toEqual(["checkout:o-1:confirm:0", "checkout:o-2:confirm:0"]);
      const statuses = await shop(async (_db, log) =>
        (await log.outbox?.messages())?.map((m) => m.status),
      );
      expect(statuses).toEqual([OutboxStatus.Delivered, OutboxStatus.Delivered]);
    } finally {
      await client.close();
      await consumer.close();
      await deleteTarget(target);
    }
  }, 20_000);

  it("explain: no gaps; reserve and confirm co-commit with the log, confirm's message in that transaction, charge probed within a 24 h key window", async () => {
    // Importing the example runs it once more, for this order.
    const argv = process.argv;
    process.argv = [argv[0] ?? "node", EXAMPLE, "o-explain"];
    process.env.SHOP_DB = file;
    process.env.PAYMENTS_URL = server.baseUrl;
    const { checkout: saga } = await import("../../examples/checkout/checkout.js").finally(() => {
      process.argv = argv;
    });
    const plan = await shop(async (_db, log) => explain(saga, { log, strict: true }));
    expect(plan.gaps).toEqual([]);
    const [reserve, charge, confirm] = plan.steps;
    expect(reserve?.strategy).toBe("co_committed");
    expect(charge).toMatchObject({ strategy: "saga", inDoubt: "until_probed", keyWindowMs: DAY });
    expect(charge?.notes.join(" ")).toContain(`${DAY} ms`);
    expect(confirm?.strategy).toBe("co_committed");
    expect(confirm?.outbox).toMatchObject({
      recorded: "co_committed",
      firstMessageId: "<sagaId>:confirm:0",
    });
    expect(plan.steps).toHaveLength(3);
    expect(posts("o-explain")).toBe(1);
  }, 20_000);
});
