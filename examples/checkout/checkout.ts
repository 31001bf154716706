import {
  committed,
  compensated,
  createRunner,
  defineSaga,
  guardFailed,
  notCommitted,
  StoreError,
} from "lockstep";
import { httpApiStore, probeByKey } from "lockstep/http-api";
import { openSqlite, sqliteSagaLog, sqliteStore } from "lockstep/sqlite";
import { z } from "zod";

const db = openSqlite(process.env.SHOP_DB ?? "shop.db");
const shop = sqliteStore(db, { id: "shop-db" });
const log = sqliteSagaLog(db, { store: shop }); // one file: steps on `shop` co-commit with the log
const payments = httpApiStore({
  id: "payments",
  baseUrl: process.env.PAYMENTS_URL ?? "https://payments.example.com/",
  keyWindowMs: 24 * 60 * 60 * 1000, // how long the provider remembers an Idempotency-Key
  headers: { authorization: `Bearer ${process.env.PAYMENTS_KEY ?? "sk_test"}` },
});
await shop.handle.run(
  "CREATE TABLE IF NOT EXISTS stock (sku TEXT PRIMARY KEY, available INTEGER NOT NULL)",
);
await shop.handle.run(
  "CREATE TABLE IF NOT EXISTS holds (order_id TEXT PRIMARY KEY, sku TEXT NOT NULL)",
);
await shop.handle.run(
  "CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, charge_id TEXT NOT NULL)",
);
await shop.handle.run("INSERT OR IGNORE INTO stock (sku, available) VALUES ('sku-7', 10)");

const charge = z.object({ id: z.string(), amount: z.number() });
type Charge = z.infer<typeof charge>;

export const checkout = defineSaga("checkout", {
  input: z.object({ orderId: z.string(), sku: z.string(), amount: z.number().int().positive() }),
})
  .step("reserve", {
    store: shop,
    kind: "compensatable",
    output: z.object({ orderId: z.string() }),
    // In one transaction with the step's log record: never in doubt.
    execute: async ({ input, handle }) => {
      const taken = await handle.run(
        "UPDATE stock SET available = available - 1 WHERE sku = ? AND available > 0",
        [input.sku],
      );
      if (taken.changes === 0) throw new StoreError("not_committed", `${input.sku} is sold out`);
      await handle.run("INSERT INTO holds (order_id, sku) VALUES (?, ?)", [
        input.orderId,
        input.sku,
      ]);
      return { orderId: input.orderId };
    },
    probe: async ({ input, handle }) =>
      (await handle.get("SELECT 1 FROM holds WHERE order_id = ?", [input.orderId]))
        ? committed({ orderId: input.orderId })
        : notCommitted(),
    // Gives the item back only while this order's hold is still there.
    compensate: async ({ input, handle, output }) => {
      const released = await handle.run("DELETE FROM holds WHERE order_id = ?", [output.orderId]);
      if (released.changes === 0) return guardFailed(`the hold of ${output.orderId} is gone`);
      await handle.run("UPDATE stock SET available = available + 1 WHERE sku = ?", [input.sku]);
      return compensated();
    },
  })
  .step("charge", {
    store: payments,
    kind: "pivot",
    output: charge,
    // Sent with `Idempotency-Key: <sagaId>:charge`; the key also goes in the charge's metadata,
    // which the provider keeps as long as the charge, for the probe to query after the window.
    execute: async ({ input, key, handle }) => {
      const metadata = { lockstep_key: key, order: input.orderId };
      return (await handle.send({ path: "v1/charges", body: { amount: input.amount, metadata } }))
        .body as Charge;
    },
    probe: probeByKey({
      byKey: async ({ key, handle }) => {
        const found = await handle.get(`v1/charges/by-key/${key}`);
        return found?.body as Charge | undefined;
      },
      byQuery: async ({ key, handle }) => {
        const found = await handle.get("v1/charges/search", { query: { metadata_key: key } });
        return (found?.body as { data: Charge[] } | undefined)?.data[0];
      },
    }),
  })
  .step("confirm", {
    store: shop,
    kind: "retriable",
    output: z.object({ orderId: z.string(), chargeId: z.string() }),
    // The order row, its log record and the orders.confirmed message commit in one transaction.
    execute: async ({ input, outputs, handle }) => {
      await handle.run("INSERT INTO orders (id, charge_id) VALUES (?, ?)", [
        input.orderId,
        outputs.charge.id,
      ]);
      return { orderId: input.orderId, chargeId: outputs.charge.id };
    },
    publish: ({ output, input }) => [
      { topic: "orders.confirmed", message: { ...output, amount: input.amount } },
    ],
  })
  .build();

// A saga id derived from the order: submitting the same checkout twice charges once.
const orderId = process.argv[2] ?? "o-1001";
const result = await createRunner({ log }).run(
  checkout,
  { orderId, sku: "sku-7", amount: 4200 },
  { sagaId: `checkout:${orderId}` },
);
console.log(result.isOk() ? result.value.status : `${result.error.code}: ${result.error.message}`);
db.close();
