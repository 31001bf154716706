import type mysql from "mysql2/promise";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type MysqlStore, mysqlStore } from "../../src/adapters/mysql/index.js";
import {
  committed,
  compensated,
  createRunner,
  defineSaga,
  defineStore,
  guardFailed,
  MemorySagaLog,
  notCommitted,
  StoreError,
} from "../../src/index.js";
import { openDatabase, type TestDatabase } from "../adapters/mysql/mysql-test.js";

/**
 * Writes that outlive their deadline, on MySQL/MariaDB. A statement that waits on a row lock keeps
 * waiting inside the server after lockstep's deadline has passed; when the lock is released it
 * lands, unless its connection was killed. Whatever lockstep reported by then must still be true
 * afterwards: a saga reported compensated has nothing of its writes left, and a pivot is applied at
 * most once.
 */

/** Waits until no connection on `database` is running a statement (the late write landed or died). */
async function quiesce(admin: mysql.Pool, database: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const [rows] = await admin.query(
      "SELECT 1 FROM information_schema.PROCESSLIST WHERE DB = ? AND COMMAND NOT IN ('Sleep', 'Killed')",
      [database],
    );
    if ((rows as unknown[]).length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`connections on ${database} were still busy after 5 s`);
}

/** A connection outside the code under test that holds a row lock in an open transaction. */
async function lockRow(db: TestDatabase, sql: string): Promise<mysql.PoolConnection> {
  const locker = await db.admin.getConnection();
  await locker.query("START TRANSACTION");
  await locker.query(sql);
  return locker;
}

describe("a MySQL statement waiting on a row lock past its step's deadline", () => {
  let db: TestDatabase;
  let locker: mysql.PoolConnection | undefined;

  beforeEach(async () => {
    db = await openDatabase();
    await db.admin.query(
      `CREATE TABLE \`${db.name}\`.stock (sku VARCHAR(16) PRIMARY KEY, qty INT NOT NULL, holder VARCHAR(64)) ENGINE=InnoDB`,
    );
    await db.admin.query(`INSERT INTO \`${db.name}\`.stock VALUES ('A', 10, NULL)`);
  });

  afterEach(async () => {
    if (locker !== undefined) {
      await locker.query("ROLLBACK").catch(() => {});
      locker.release();
      locker = undefined;
    }
    await db.close();
  });

  function checkoutSaga(shop: MysqlStore, holds: { count: number }) {
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
        // One autocommit statement: the holder and the stock decrement land together.
        execute: async ({ key, handle }) => {
          await handle.query("UPDATE stock SET qty = qty - 1, holder = ? WHERE sku = 'A'", [key]);
          return { reserved: true };
        },
        probe: async ({ key, handle }) => {
          const { rows } = await handle.query("SELECT 1 FROM stock WHERE holder = ?", [key]);
          return rows.length > 0 ? committed({ reserved: true }) : notCommitted();
        },
        compensate: async ({ key, handle }) => {
          const { rowCount } = await handle.query(
            "UPDATE stock SET qty = qty + 1, holder = NULL WHERE sku = 'A' AND holder = ?",
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
    const shop = mysqlStore(db.pool, { id: "shop" });
    locker = await lockRow(db, `SELECT * FROM \`${db.name}\`.stock WHERE sku = 'A' FOR UPDATE`);
    const holds = { count: 0 };
    const runner = createRunner({ log: new MemorySagaLog() });
    const result = await runner.run(checkoutSaga(shop, holds), { orderId: "o-1" });
    // The lock holder finishes; a statement nobody stopped would now decrement the stock.
    await locker.query("COMMIT");
    locker.release();
    locker = undefined;
    await quiesce(db.admin, db.name);

    const [rows] = await db.admin.query(`SELECT qty, holder FROM \`${db.name}\`.stock`);
    const stock = (rows as { qty: number; holder: string | null }[])[0];
    const report = result.isErr() && "report" in result.error ? result.error.report : undefined;
    const status = result.isOk() ? result.value.status : report?.status;
    if (status === "compensated") {
      expect(stock?.holder, "a compensated saga left its reservation behind").toBeNull();
      expect(stock?.qty, "a compensated saga left the stock decremented").toBe(10);
      expect(holds.count).toBe(0);
    } else {
      // Not knowing is allowed (in doubt, needs attention); claiming an undo that did not happen is not.
      expect(status).not.toBe("completed");
      expect(stock?.qty).toBe(stock?.holder === null ? 10 : 9);
    }
  });
});

/**
 * A transaction abandoned before its COMMIT was sent can never commit; this checks that the retries
 * that follow never apply the pivot twice, and that a transaction stuck behind a lock does not hold
 * the saga past its deadline.
 */
describe("a MySQL pivot transaction waiting on a row lock past its deadline", () => {
  let db: TestDatabase;
  let locker: mysql.PoolConnection | undefined;

  beforeEach(async () => {
    db = await openDatabase();
    await db.admin.query(
      `CREATE TABLE \`${db.name}\`.ledger (id INT AUTO_INCREMENT PRIMARY KEY, amount INT, op VARCHAR(64)) ENGINE=InnoDB`,
    );
    await db.admin.query(
      `CREATE TABLE \`${db.name}\`.accounts (id VARCHAR(16) PRIMARY KEY, balance INT NOT NULL) ENGINE=InnoDB`,
    );
    await db.admin.query(`INSERT INTO \`${db.name}\`.accounts VALUES ('alice', 100)`);
  });

  afterEach(async () => {
    if (locker !== undefined) {
      await locker.query("ROLLBACK").catch(() => {});
      locker.release();
      locker = undefined;
    }
    await db.close();
  });

  /** The pivot moves money: a ledger row per attempt that commits, so a double commit shows. */
  function paySaga(shop: MysqlStore) {
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
              await tx.query("INSERT INTO ledger (amount, op) VALUES (?, ?)", [input.amount, key]);
              // Waits on the row the locker holds, past the step's deadline.
              await tx.query("UPDATE accounts SET balance = balance - ? WHERE id = 'alice'", [
                input.amount,
              ]);
              return { paid: true };
            },
            { signal, deadline },
          ),
        probe: async ({ key, handle }) => {
          const { rows } = await handle.query("SELECT 1 FROM ledger WHERE op = ?", [key]);
          return rows.length > 0 ? committed({ paid: true }) : notCommitted();
        },
      })
      .build();
  }

  it("is applied at most once, and only where the saga says so", async () => {
    const shop = mysqlStore(db.pool, { id: "shop" });
    locker = await lockRow(
      db,
      `SELECT * FROM \`${db.name}\`.accounts WHERE id = 'alice' FOR UPDATE`,
    );
    const runner = createRunner({ log: new MemorySagaLog() });
    const result = await runner.run(paySaga(shop), { amount: 25 });
    // The lock holder finishes: any attempt lockstep gave up on but did not stop lands here.
    await locker.query("COMMIT");
    locker.release();
    locker = undefined;
    await quiesce(db.admin, db.name);
    const [ledger] = await db.admin.query(`SELECT amount FROM \`${db.name}\`.ledger`);
    const [accounts] = await db.admin.query(`SELECT balance FROM \`${db.name}\`.accounts`);
    const rows = ledger as { amount: number }[];
    expect(rows.length, "the pivot was applied more than once").toBeLessThanOrEqual(1);
    expect((accounts as { balance: number }[])[0]?.balance).toBe(100 - 25 * rows.length);
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
