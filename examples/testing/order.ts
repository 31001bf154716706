/**
 * Crash-testing a saga on real stores: an order reserves stock in Postgres, charges credits in
 * Redis (the point of no return) and confirms in Postgres. docs/testing.md ("Real stores") walks
 * through it; test/testing/real-stores-example.test.ts runs it against the test Postgres and Redis.
 */

import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { committed, compensated, defineSaga, notCommitted, StoreError } from "lockstep";
import { type PostgresStore, postgresStore } from "lockstep/postgres";
import { type RedisStore, redisHincrby, redisHset, redisSet, redisStore } from "lockstep/redis";
import {
  allOrNothing,
  assertCrashPoints,
  assertSimulation,
  defineInvariant,
} from "lockstep/testing";
import pg from "pg";
import { z } from "zod";

/** What setup returns: the two real stores, and how to read their state for the kit. */
export interface Shop {
  readonly stores: { readonly stock: PostgresStore; readonly credits: RedisStore };
  /** Redis keys of this shop start with it, so tests never share a key. */
  readonly prefix: string;
  /** Reads both stores for the invariants and for "a second recovery changes nothing". */
  readonly snapshot: () => Promise<ShopState>;
}

/** What the stores hold, read straight from Postgres and Redis. */
export interface ShopState {
  readonly available: number;
  readonly reservations: readonly { order_id: string; qty: number }[];
  readonly confirmations: readonly string[];
  readonly balance: number;
  readonly charged: number;
}

export const OPENING_STOCK = 10;
export const OPENING_CREDITS = 100;

// docs: real-stores-setup
/**
 * Opens the stores once per test: a schema of its own in Postgres and a key prefix of its own in
 * Redis. `reset` empties them before every schedule; `close` drops the schema and deletes the keys.
 */
export async function openShop(urls: { postgres: string; redis: string }) {
  const schema = `shop_${randomUUID().replaceAll("-", "")}`;
  const admin = new pg.Pool({ connectionString: urls.postgres, max: 1 });
  await admin.query(`CREATE SCHEMA ${schema}`);
  const pool = new pg.Pool({
    connectionString: urls.postgres,
    options: `-c search_path=${schema}`,
  });
  await pool.query(`
    CREATE TABLE stock (sku text PRIMARY KEY, available int NOT NULL CHECK (available >= 0));
    CREATE TABLE reservations (order_id text PRIMARY KEY, qty int NOT NULL, key text NOT NULL);
    CREATE TABLE confirmations (order_id text PRIMARY KEY, key text NOT NULL);`);
  const client = new Redis(urls.redis, { lazyConnect: true });
  const prefix = `shop:${randomUUID()}:`;
  // Fence keys under the test's prefix: every schedule reuses the saga ids, and reset deletes them.
  const credits = redisStore(client, { id: "credits", fenceKeyPrefix: `${prefix}fence:` });
  const shop: Shop = {
    stores: { stock: postgresStore(pool, { id: "stock" }), credits },
    prefix,
    snapshot: () => readShop(pool, credits, prefix),
  };
  const reset = async (): Promise<Shop> => {
    await pool.query(`TRUNCATE stock, reservations, confirmations;
      INSERT INTO stock VALUES ('widget', ${OPENING_STOCK})`);
    await deleteKeys(client, prefix);
    await credits.handle.apply(redisHset(`${prefix}account`, { balance: OPENING_CREDITS }));
    return shop;
  };
  const close = async () => {
    await credits.close();
    await deleteKeys(client, prefix);
    client.disconnect();
    await pool.end();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  };
  return { reset, close };
}
// docs: end

async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
    if (keys.length > 0) await client.del(...keys);
    cursor = next;
  } while (cursor !== "0");
}

async function readShop(pool: pg.Pool, credits: RedisStore, prefix: string): Promise<ShopState> {
  const stock = await pool.query<{ available: number }>("SELECT available FROM stock");
  const reservations = await pool.query<{ order_id: string; qty: number }>(
    "SELECT order_id, qty FROM reservations ORDER BY order_id",
  );
  const confirmations = await pool.query<{ order_id: string }>(
    "SELECT order_id FROM confirmations ORDER BY order_id",
  );
  // One order per schedule, and its charge is the only one: the example's input is fixed.
  const charge = await credits.handle.get(`${prefix}charge:o-1`);
  const account = await credits.handle.get(`${prefix}account`);
  return {
    available: stock.rows[0]?.available ?? 0,
    reservations: reservations.rows,
    confirmations: confirmations.rows.map((r) => r.order_id),
    balance: Number((account?.value as { balance?: string } | undefined)?.balance),
    charged: (charge?.value as { amount?: number } | undefined)?.amount ?? 0,
  };
}

const input = z.object({
  orderId: z.string(),
  qty: z.number().int().positive(),
  price: z.number(),
});

// docs: real-stores-saga
/** Reserve stock (Postgres), charge credits (Redis, the pivot), confirm (Postgres). */
export function orderSaga({ stores, prefix }: Shop) {
  return defineSaga("order", { input })
    .step("reserve", {
      store: stores.stock,
      kind: "compensatable",
      output: z.object({ qty: z.number() }),
      // One transaction: the stock goes down and the reservation appears together, or neither.
      execute: ({ input, key, signal, deadline }) =>
        stores.stock.transaction(
          async (tx) => {
            const mine = await tx.query<{ key: string }>(
              "SELECT key FROM reservations WHERE order_id = $1",
              [input.orderId],
            );
            if (mine.rows[0]?.key === key) return { qty: input.qty };
            const taken = await tx.query(
              "UPDATE stock SET available = available - $1 WHERE sku = 'widget' AND available >= $1",
              [input.qty],
            );
            if (taken.rowCount === 0) throw new StoreError("not_committed", "Out of stock.");
            await tx.query("INSERT INTO reservations VALUES ($1, $2, $3)", [
              input.orderId,
              input.qty,
              key,
            ]);
            return { qty: input.qty };
          },
          { signal, deadline },
        ),
      probe: async ({ input, key, handle }) => {
        const { rows } = await handle.query<{ key: string }>(
          "SELECT key FROM reservations WHERE order_id = $1",
          [input.orderId],
        );
        return rows[0]?.key === key ? committed({ qty: input.qty }) : notCommitted();
      },
      compensate: ({ input, key, signal, deadline }) =>
        stores.stock.transaction(
          async (tx) => {
            const gone = await tx.query(
              "DELETE FROM reservations WHERE order_id = $1 AND key = $2",
              [input.orderId, key],
            );
            if (gone.rowCount === 1) {
              await tx.query("UPDATE stock SET available = available + $1 WHERE sku = 'widget'", [
                input.qty,
              ]);
            }
            return compensated();
          },
          { signal, deadline },
        ),
    })
    .step("charge", {
      store: stores.credits,
      kind: "pivot",
      output: z.object({ charged: z.number() }),
      // One Lua script: the balance goes down and the charge record appears together, or neither.
      execute: async ({ input, key, handle, signal }) => {
        const charge = `${prefix}charge:${input.orderId}`;
        const doc = await handle.get(charge, { signal });
        if ((doc?.value as { key?: string } | undefined)?.key === key) {
          return { charged: input.price };
        }
        await handle.batch(
          [
            redisHincrby(`${prefix}account`, "balance", -input.price, { min: 0 }),
            redisSet(charge, { key, amount: input.price }, { ifVersion: "absent" }),
          ],
          { signal },
        );
        return { charged: input.price };
      },
      probe: async ({ input, key, handle, signal }) => {
        const doc = await handle.get(`${prefix}charge:${input.orderId}`, { signal });
        return (doc?.value as { key?: string } | undefined)?.key === key
          ? committed({ charged: input.price })
          : notCommitted();
      },
    })
    .step("confirm", {
      store: stores.stock,
      kind: "retriable",
      output: z.object({ confirmed: z.boolean() }),
      execute: async ({ input, key, handle }) => {
        await handle.query(
          "INSERT INTO confirmations VALUES ($1, $2) ON CONFLICT (order_id) DO NOTHING",
          [input.orderId, key],
        );
        return { confirmed: true };
      },
    })
    .build();
}
// docs: end

// docs: real-stores-invariants
const orderOf = (saga: { record: { input: unknown } } | undefined) =>
  (saga?.record.input as { orderId?: string } | undefined)?.orderId ?? "o-1";

/** Judged from what Postgres and Redis hold after every recovery. */
export const orderInvariants = [
  allOrNothing<Shop>({
    reserve: async (shop, saga) =>
      (await shop.snapshot()).reservations.some((r) => r.order_id === orderOf(saga)),
    charge: async (shop, saga) =>
      (await shop.stores.credits.handle.get(`${shop.prefix}charge:${orderOf(saga)}`)) !== undefined,
    confirm: async (shop, saga) => (await shop.snapshot()).confirmations.includes(orderOf(saga)),
  }),
  defineInvariant<Shop>("stock and credits are conserved", async ({ world }) => {
    const s = await world.snapshot();
    const reserved = s.reservations.reduce((sum, r) => sum + r.qty, 0);
    const problems: string[] = [];
    if (s.available + reserved !== OPENING_STOCK) {
      problems.push(
        `${s.available} widgets available and ${reserved} reserved, not ${OPENING_STOCK}.`,
      );
    }
    if (s.balance + s.charged !== OPENING_CREDITS) {
      problems.push(`A balance of ${s.balance} and ${s.charged} charged, not ${OPENING_CREDITS}.`);
    }
    return problems;
  }),
];
// docs: end

// docs: real-stores-run
/**
 * Every crash point of the run, then 20 seeded fault schedules, on the real stores. `realIo` makes
 * the kit wait for Postgres and Redis instead of moving virtual time while they answer.
 */
export async function testOrder(urls: { postgres: string; redis: string }) {
  const shop = await openShop(urls);
  const scenario = {
    setup: shop.reset, // empties the tables and the keys before every schedule
    saga: orderSaga,
    input: { orderId: "o-1", qty: 3, price: 40 },
    invariants: orderInvariants,
    reads: ["get"], // Redis reads are no crash points; every Postgres query may write
    realIo: true,
  };
  try {
    // Every schedule costs real round trips: crash the run at each boundary, and leave crashing
    // each recovery pass at each of its own (crashRecovery, on by default) to a nightly job.
    const crashes = await assertCrashPoints({ ...scenario, crashRecovery: false });
    const simulation = await assertSimulation({ ...scenario, schedules: 20 });
    return { crashes, simulation };
  } finally {
    await shop.close();
  }
}
// docs: end
