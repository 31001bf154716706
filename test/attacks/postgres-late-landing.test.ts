import type pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type PostgresStore,
  postgresSagaLog,
  postgresStore,
} from "../../src/adapters/postgres/index.js";
import {
  committed,
  compensated,
  createRunner,
  defineSaga,
  defineStore,
  guardFailed,
  MemorySagaLog,
  notCommitted,
  type SagaLog,
  StoreError,
} from "../../src/index.js";
import { type CommitGate, installCommitGate } from "../adapters/postgres/commit-gate.js";
import { openSchema, type TestSchema } from "../adapters/postgres/pg-test.js";

/**
 * Writes that outlive their deadline. A Postgres statement that waits on a row lock, or a COMMIT
 * that waits inside the server, keeps going after lockstep's deadline has passed; when the wait
 * ends it lands. Whatever lockstep reported by then must still be true afterwards: a saga reported
 * compensated has nothing of its writes left, and a pivot is applied at most once.
 */

/** Waits until no backend of `app` is running a statement (the late write has landed or died). */
async function quiesce(admin: pg.Pool, app: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await admin.query(
      "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state <> 'idle'",
      [app],
    );
    if (rows.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`backends of ${app} were still busy after 5 s`);
}

describe("a statement waiting on a row lock past its step's deadline", () => {
  let db: TestSchema;
  let locker: pg.PoolClient | undefined;

  beforeEach(async () => {
    db = await openSchema();
    await db.admin.query(`
      CREATE TABLE "${db.schema}".stock (sku text PRIMARY KEY, qty int NOT NULL);
      CREATE TABLE "${db.schema}".reservations (key text PRIMARY KEY, sku text NOT NULL);
      INSERT INTO "${db.schema}".stock VALUES ('A', 10);`);
  });

  afterEach(async () => {
    if (locker !== undefined) {
      await locker.query("ROLLBACK").catch(() => {});
      locker.release();
      locker = undefined;
    }
    await db.close();
  });

  function checkoutSaga(shop: PostgresStore, holds: { count: number }) {
    const side = defineStore({ id: "holds", handle: holds });
    return defineSaga("checkout", { input: z.object({ orderId: z.string() }) })
      .step("hold", {
        store: side,
        kind: "compensatable",
        output: z.object({ held: z.boolean() }),
        execute: async () => {
          holds.count++;
          return { held: true };
        },
        probe: async () => (holds.count > 0 ? committed({ held: true }) : notCommitted()),
        compensate: async () => {
          holds.count--;
          return compensated();
        },
      })
      .step("reserve", {
        store: shop,
        kind: "compensatable",
        timeoutMs: 500,
        retry: { attempts: 1 },
        output: z.object({ reserved: z.boolean() }),
        // One autocommit statement: the reservation and the stock decrement land together.
        execute: async ({ key, handle }) => {
          await handle.query(
            `WITH r AS (INSERT INTO reservations (key, sku) VALUES ($1, 'A'))
             UPDATE stock SET qty = qty - 1 WHERE sku = 'A'`,
            [key],
          );
          return { reserved: true };
        },
        probe: async ({ key, handle }) => {
          const { rows } = await handle.query("SELECT 1 FROM reservations WHERE key = $1", [key]);
          return rows.length > 0 ? committed({ reserved: true }) : notCommitted();
        },
        compensate: async ({ key, handle }) => {
          const { rowCount } = await handle.query(
            `WITH r AS (DELETE FROM reservations WHERE key = $1 RETURNING 1)
             UPDATE stock SET qty = qty + 1 WHERE sku = 'A' AND EXISTS (SELECT 1 FROM r)`,
            [key],
          );
          return rowCount === 1 ? compensated() : guardFailed("the reservation is gone");
        },
      })
      .step("charge", {
        store: side,
        kind: "pivot",
        output: z.object({ charged: z.boolean() }),
        execute: async () => {
          throw new StoreError("not_committed", "the card was declined");
        },
        probe: async () => notCommitted(),
      })
      .build();
  }

  it("never reports the saga undone while its write can still land", async () => {
    const shop = postgresStore(db.pool, { id: "shop" });
    locker = await db.admin.connect();
    await locker.query("BEGIN");
    await locker.query(`SELECT * FROM "${db.schema}".stock WHERE sku = 'A' FOR UPDATE`);
    const holds = { count: 0 };
    const runner = createRunner({ log: new MemorySagaLog() });
    const result = await runner.run(checkoutSaga(shop, holds), { orderId: "o-1" });
    // The lock holder finishes; a statement nobody stopped would now decrement the stock.
    await locker.query("COMMIT");
    locker.release();
    locker = undefined;
    await quiesce(db.admin, db.schema);

    const { rows: stock } = await db.admin.query<{ qty: number }>(
      `SELECT qty FROM "${db.schema}".stock WHERE sku = 'A'`,
    );
    const { rows: reservations } = await db.admin.query(
      `SELECT key FROM "${db.schema}".reservations`,
    );
    const report = result.isErr() && "report" in result.error ? result.error.report : undefined;
    const status = result.isOk() ? result.value.status : report?.status;
    if (status === "compensated") {
      expect(reservations, "a compensated saga left its reservation behind").toHaveLength(0);
      expect(stock[0]?.qty, "a compensated saga left the stock decremented").toBe(10);
      expect(holds.count).toBe(0);
    } else {
      // Not knowing is allowed (in doubt, needs attention); claiming an undo that did not happen is not.
      expect(status).not.toBe("completed");
      expect(stock[0]?.qty).toBe(10 - reservations.length);
    }
  });
});

describe("a pivot whose COMMIT is slower than its deadline", () => {
  let db: TestSchema;
  let gate: CommitGate;

  beforeEach(async () => {
    db = await openSchema();
    await db.admin.query(`CREATE TABLE "${db.schema}".payments (key text PRIMARY KEY, amount int)`);
    await db.admin.query(`CREATE TABLE "${db.schema}".ledger (id serial PRIMARY KEY, amount int)`);
    gate = await installCommitGate(db.admin, `"${db.schema}"."ledger"`);
  });

  afterEach(async () => {
    await gate.open();
    await db.close();
  });

  /** The pivot moves money: a ledger row per attempt that commits, so a double commit shows. */
  function paySaga(shop: PostgresStore) {
    return defineSaga("pay", { input: z.object({ amount: z.number() }) })
      .step("pay", {
        store: shop,
        kind: "pivot",
        timeoutMs: 500,
        retry: { attempts: 3, initialDelayMs: 10 },
        output: z.object({ paid: z.boolean() }),
        execute: ({ input, key, signal, deadline }) =>
          shop.transaction(
            async (tx) => {
              await tx.query(
                "INSERT INTO payments (key, amount) VALUES ($1 || '-' || txid_current(), $2)",
                [key, input.amount],
              );
              await tx.query("INSERT INTO ledger (amount) VALUES ($1)", [input.amount]);
              return { paid: true };
            },
            { signal, deadline },
          ),
        probe: async ({ key, handle }) => {
          const { rows } = await handle.query("SELECT 1 FROM payments WHERE key LIKE $1 || '-%'", [
            key,
          ]);
          return rows.length > 0 ? committed({ paid: true }) : notCommitted();
        },
      })
      .build();
  }

  it("is applied at most once, and only where the saga says so", async () => {
    const shop = postgresStore(db.pool, { id: "shop" });
    await gate.close();
    const runner = createRunner({ log: new MemorySagaLog() });
    const result = await runner.run(paySaga(shop), { amount: 25 });
    // The slow COMMITs finish now: any attempt lockstep gave up on but did not stop lands here.
    await gate.open();
    await quiesce(db.admin, db.schema);
    const { rows } = await db.admin.query<{ amount: number }>(
      `SELECT amount FROM "${db.schema}".ledger`,
    );
    expect(rows.length, "the pivot was applied more than once").toBeLessThanOrEqual(1);
    const status = result.isOk() ? result.value.status : undefined;
    if (rows.length === 1) {
      expect(
        result.isOk() || result.error.code !== "step_failed",
        "money moved under a failed saga",
      ).toBe(true);
    }
    if (status === "completed") expect(rows).toHaveLength(1);
  });
});

describe("a co-committed group whose COMMIT is slower than its deadline", () => {
  let db: TestSchema;
  let gate: CommitGate;

  beforeEach(async () => {
    db = await openSchema();
    await db.admin.query(`CREATE TABLE "${db.schema}".receipts (key text PRIMARY KEY)`);
    gate = await installCommitGate(db.admin, `"${db.schema}"."receipts"`);
  });

  afterEach(async () => {
    await gate.open();
    await db.close();
  });

  it("is settled by the log once its backend is gone, and the log never moves backwards", async () => {
    const shop = postgresStore(db.pool);
    const log = postgresSagaLog(db.pool, { schema: db.schema });
    const saga = defineSaga("receipt", { input: z.object({ id: z.string() }) })
      .step("issue", {
        store: shop,
        kind: "pivot",
        timeoutMs: 500,
        retry: { attempts: 3, initialDelayMs: 10 },
        output: z.object({ issued: z.boolean() }),
        execute: async ({ key, handle }) => {
          await handle.query("INSERT INTO receipts (key) VALUES ($1)", [key]);
          return { issued: true };
        },
        probe: async ({ key, handle }) => {
          const { rows } = await handle.query("SELECT 1 FROM receipts WHERE key = $1", [key]);
          return rows.length > 0 ? committed({ issued: true }) : notCommitted();
        },
      })
      .build();
    expect(log.coCommit.storeId).toBe(shop.id);
    // The pause an attacker wants: the runner has read the log back and decided; before its next
    // status write reaches the log, every COMMIT it gave up on is let through.
    const paused: SagaLog = new Proxy(log, {
      get(target, property) {
        if (property === "write") {
          return async (...args: Parameters<SagaLog["write"]>) => {
            if (args[2].status !== undefined) {
              await gate.open();
              await quiesce(db.admin, db.schema);
            }
            return target.write(...args);
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    await gate.close();
    const result = await createRunner({ log: paused }).run(saga, { id: "r-1" }, { sagaId: "r-1" });
    await gate.open();
    await quiesce(db.admin, db.schema);
    const { rows } = await db.admin.query(`SELECT key FROM "${db.schema}".receipts`);
    const record = (await log.load("r-1"))?.record;
    expect(rows.length, "the receipt was issued more than once").toBeLessThanOrEqual(1);
    if (rows.length === 1) {
      expect(record?.status, "a receipt landed under a saga the log does not call done").toBe(
        "completed",
      );
    }
    if (record?.status === "completed") expect(rows).toHaveLength(1);
    if (result.isOk()) expect(result.value.status).toBe(record?.status);
    // Settled by the runner itself, not left to a log call stuck behind the slow COMMIT's locks.
    expect(result.isErr() ? result.error.code : "ok", "the group was not settled").not.toBe(
      "log_failed",
    );
  });
});
