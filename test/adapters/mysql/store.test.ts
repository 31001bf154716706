import mysql from "mysql2/promise";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  classifyMysqlError,
  type MysqlStore,
  mysqlStore,
} from "../../../src/adapters/mysql/index.js";
import { classifyError, StoreError } from "../../../src/core/error-kinds.js";
import { committed, defineSaga, explain } from "../../../src/index.js";
import { LockstepDefinitionError } from "../../../src/model/definition-error.js";
import { deferred, openScope, storeFailure } from "../../conformance/transaction.js";
import { type CuttingProxy, startCuttingProxy } from "./cutting-proxy.js";
import { openDatabase, openPool, type TestDatabase } from "./mysql-test.js";

/** A point one transaction waits at until the other has reached it. */
type Gate = ReturnType<typeof deferred<void>>;

let db: TestDatabase;
let store: MysqlStore;

beforeEach(async () => {
  db = await openDatabase();
  store = mysqlStore(db.pool, { id: "shop" });
  await store.handle.query(
    "CREATE TABLE items (id VARCHAR(32) PRIMARY KEY, qty INT NOT NULL, version INT NOT NULL DEFAULT 1) ENGINE=InnoDB",
  );
  await store.handle.query("INSERT INTO items (id, qty) VALUES ('a', 1), ('b', 1)");
});

afterEach(() => db.close());

const count = async (where = "1 = 1") =>
  Number(
    (await store.handle.query<{ n: number }>(`SELECT COUNT(*) AS n FROM items WHERE ${where}`))
      .rows[0]?.n,
  );

describe("mysqlStore input", () => {
  it("refuses a mysql2 callback pool, a single connection and other values, naming them", async () => {
    const { createPool } = await import("mysql2");
    const callbackPool = createPool({ host: "127.0.0.1", user: "root" });
    const single = await mysql.createConnection({ host: "127.0.0.1", user: "root" });
    try {
      expect(() => mysqlStore(callbackPool as never)).toThrow(LockstepDefinitionError);
      expect(() => mysqlStore(callbackPool as never)).toThrow(
        /Expected `pool` to be a mysql2 promise pool \(from "mysql2\/promise"\), got a mysql2 callback pool `\[object Object\]` \(object\); pass `pool.promise\(\)` instead/,
      );
      expect(() => mysqlStore(single as never)).toThrow(
        /a single connection cannot give each transaction/,
      );
      expect(() => mysqlStore("mysql://root@127.0.0.1" as never)).toThrow(
        /got `"mysql:\/\/root@127.0.0.1"` \(string\)/,
      );
      expect(() => mysqlStore(db.pool, { isolation: "snapshot" as never })).toThrow(
        /Expected `isolation` to be one of .*got `"snapshot"` \(string\)/,
      );
      expect(() => mysqlStore(db.pool, { attempts: 0 })).toThrow(/`attempts`.*got `0`/);
      // The callback pool's own promise pool is accepted.
      expect(mysqlStore(callbackPool.promise() as never, { id: "x" }).id).toBe("x");
    } finally {
      await single.end();
      await new Promise((resolve) => callbackPool.end(resolve));
    }
  });

  it("derives its id from the pool, as the saga log does", () => {
    const pool = openPool("orders");
    try {
      expect(mysqlStore(pool).id).toMatch(/^mysql:127\.0\.0\.1:3306\/orders$/);
    } finally {
      void pool.end();
    }
  });

  it("refuses transaction control through every handle, before sending it", async () => {
    for (const sql of [
      "START TRANSACTION",
      "begin",
      "COMMIT",
      "SET autocommit = 0",
      "set @@autocommit=0",
      "LOCK TABLES items WRITE",
      "XA START 'x'",
      "SAVEPOINT s",
    ]) {
      const root = await storeFailure(store.handle.query(sql));
      expect(root.kind, sql).toBe("not_committed");
      const inside = await storeFailure(
        store.transaction((tx) => tx.query(sql), openScope().scope),
      );
      expect(inside.kind, sql).toBe("not_committed");
    }
  });
});

describe("mysqlStore's attempt fence", () => {
  it("is kill_and_wait, and explain reports it for a step on the store", () => {
    expect(store.fence).toEqual({ mode: "kill_and_wait" });
    const saga = defineSaga("probe-fence", { input: z.object({}) })
      .step("write", {
        store,
        kind: "pivot",
        output: z.object({}),
        execute: async () => ({}),
        probe: async () => committed({}),
      })
      .build();
    expect(explain(saga).steps.map((s) => s.fence)).toEqual(["kill_and_wait"]);
  });

  it("kills the connection of a query abandoned mid-statement, and settles once it is gone", async () => {
    const locker = await db.admin.getConnection();
    try {
      await locker.query("START TRANSACTION");
      await locker.query(`SELECT * FROM \`${db.name}\`.items WHERE id = 'a' FOR UPDATE`);
      const { scope, controller } = openScope();
      const handle = store.handleFor?.(scope, {
        sagaId: "s",
        step: "write",
        key: "k",
        fencingToken: 1,
      });
      if (handle === undefined) throw new Error("mysqlStore must give each call its own handle");
      const waiting = handle.query("UPDATE items SET qty = 99 WHERE id = 'a'");
      // Waits until the statement is in the server, stuck on the lock.
      for (;;) {
        const [rows] = await db.admin.query(
          "SELECT 1 FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'UPDATE items SET qty = 99%'",
          [db.name],
        );
        if ((rows as unknown[]).length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      controller.abort(new Error("deadline"));
      const error = await storeFailure(waiting);
      expect(error.kind).toBe("unknown");
      expect(error.message).toMatch(/was killed and is gone/);
      await locker.query("COMMIT");
      expect(await count("qty = 99"), "the killed statement must never land").toBe(0);
    } finally {
      await locker.query("ROLLBACK").catch(() => {});
      locker.release();
    }
  });
});

describe("mysqlStore writes", () => {
  it("counts the rows a guarded update matched, even when it changes nothing and FOUND_ROWS is off", async () => {
    const pool = openPool(db.name, { flags: ["-FOUND_ROWS"] });
    try {
      const plain = mysqlStore(pool, { id: "plain" });
      const same = {
        sql: "UPDATE items SET qty = 1 WHERE id = ? AND version = ?",
        values: ["a", 1],
      };
      const scope = openScope().scope;
      expect(plain.affected(await plain.apply(plain.handle, same, scope))).toBe(1);
      const lost = {
        sql: "UPDATE items SET qty = 2 WHERE id = ? AND version = ?",
        values: ["a", 7],
      };
      expect(plain.affected(await plain.apply(plain.handle, lost, scope))).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it("classifies a duplicate key as not committed, through the store", async () => {
    const error = await store.handle.query("INSERT INTO items (id, qty) VALUES ('a', 5)").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as { errno?: number }).errno).toBe(1062);
    expect(classifyError(error, store.classifyError)).toBe("not_committed");
    const inTx = await storeFailure(
      store.transaction(
        (tx) => tx.query("INSERT INTO items (id, qty) VALUES ('b', 5)"),
        openScope().scope,
      ),
    );
    expect(inTx.kind).toBe("not_committed");
  });

  it("rolls back only a failed savepoint, keeping the rest of the transaction", async () => {
    await store.transaction(async (tx) => {
      await tx.query("UPDATE items SET qty = 10 WHERE id = 'a'");
      await tx
        .savepoint(async (sp) => {
          await sp.query("UPDATE items SET qty = 20 WHERE id = 'b'");
          throw new Error("undo the savepoint");
        })
        .catch(() => {});
      await tx.query("INSERT INTO items (id, qty) VALUES ('c', 3)");
    }, openScope().scope);
    const { rows } = await store.handle.query<{ id: string; qty: number }>(
      "SELECT id, qty FROM items ORDER BY id",
    );
    expect(rows.map((r) => [r.id, r.qty])).toEqual([
      ["a", 10],
      ["b", 1],
      ["c", 3],
    ]);
  });
});

describe("mysqlStore when InnoDB rolls a transaction back on its own", () => {
  it("refuses every statement after a deadlock, so nothing commits outside the transaction", async () => {
    const first = deferred();
    const second = deferred();
    const lateInserts: Promise<unknown>[] = [];
    const run = (lock: string, other: string, mine: Gate, theirs: Gate) =>
      mysqlStore(db.pool, { id: "shop", attempts: 1 }).transaction(async (tx) => {
        await tx.query("UPDATE items SET qty = qty + 1 WHERE id = ?", [lock]);
        mine.resolve();
        await theirs.promise;
        try {
          await tx.query("UPDATE items SET qty = qty + 1 WHERE id = ?", [other]);
        } catch (error) {
          // Work that swallows the deadlock and carries on: on the bare connection this insert
          // would run in autocommit and commit on its own.
          const late = tx.query("INSERT INTO items (id, qty) VALUES (?, 0)", [`late-${lock}`]);
          lateInserts.push(late);
          await late.catch(() => {});
          throw error;
        }
      }, openScope().scope);
    const outcomes = await Promise.allSettled([
      run("a", "b", first, second),
      run("b", "a", second, first),
    ]);
    const failed = outcomes.filter((o) => o.status === "rejected");
    expect(failed, "exactly one transaction is the deadlock victim").toHaveLength(1);
    const reason = (failed[0] as PromiseRejectedResult).reason;
    expect(StoreError.is(reason) && reason.kind).toBe("transient");
    expect(lateInserts).toHaveLength(1);
    const late = await storeFailure(lateInserts[0] as Promise<unknown>);
    expect(late.kind).toBe("not_committed");
    expect(
      await count("id LIKE 'late-%'"),
      "a statement after the deadlock committed on its own",
    ).toBe(0);
  });

  it("reruns the whole transaction after a deadlock while attempts remain", async () => {
    const first = deferred();
    const second = deferred();
    let runs = 0;
    const run = (lock: string, other: string, mine: Gate, theirs: Gate) =>
      mysqlStore(db.pool, { id: "shop", attempts: 3 }).transaction(async (tx) => {
        runs++;
        await tx.query("UPDATE items SET qty = qty + 1 WHERE id = ?", [lock]);
        mine.resolve();
        await theirs.promise;
        await tx.query("UPDATE items SET qty = qty + 1 WHERE id = ?", [other]);
      }, openScope().scope);
    await Promise.all([run("a", "b", first, second), run("b", "a", second, first)]);
    expect(runs, "the victim ran again").toBe(3);
    expect(await count("qty = 3"), "both transactions committed once each").toBe(2);
  });

  it("refuses every statement after a lock wait timeout", async () => {
    const locker = await db.admin.getConnection();
    try {
      await locker.query("START TRANSACTION");
      await locker.query(`SELECT * FROM \`${db.name}\`.items WHERE id = 'a' FOR UPDATE`);
      let late: Promise<unknown> | undefined;
      const error = await storeFailure(
        store.transaction(async (tx) => {
          await tx.query("SET SESSION innodb_lock_wait_timeout = 1");
          await tx.query("INSERT INTO items (id, qty) VALUES ('early', 0)");
          await tx.query("UPDATE items SET qty = 5 WHERE id = 'a'").catch(() => {
            late = tx.query("INSERT INTO items (id, qty) VALUES ('late', 0)");
          });
          await late?.catch(() => {});
        }, openScope().scope),
      );
      expect(error.kind).toBe("transient");
      expect(late).toBeDefined();
      expect((await storeFailure(late as Promise<unknown>)).kind).toBe("not_committed");
      expect(await count("id IN ('early', 'late')")).toBe(0);
    } finally {
      await locker.query("ROLLBACK");
      locker.release();
    }
  });
});

describe("mysqlStore when the connection is lost", () => {
  let proxy: CuttingProxy;
  let pool: mysql.Pool;

  beforeEach(async () => {
    proxy = await startCuttingProxy();
    pool = openPool(db.name, { host: proxy.host, port: proxy.port });
  });

  afterEach(async () => {
    await pool.end().catch(() => {});
    await proxy.close();
  });

  it("reports a COMMIT whose answer was lost as unknown, though it committed", async () => {
    const shop = mysqlStore(pool, { id: "shop" });
    const cut = proxy.cutAfterNextCommit();
    const error = await storeFailure(
      shop.transaction(
        (tx) => tx.query("INSERT INTO items (id, qty) VALUES ('c', 1)"),
        openScope().scope,
      ),
    );
    await cut;
    expect(error.kind, "a lost COMMIT may have landed").toBe("unknown");
    expect(classifyMysqlError(error.cause)).toBe("unknown");
    expect(await count("id = 'c'"), "the commit did land").toBe(1);
  });
});
