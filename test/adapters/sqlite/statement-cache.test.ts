import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type SqliteStore, sqliteStore } from "../../../src/adapters/sqlite/index.js";
import { openScope } from "../../conformance/transaction.js";
import { type TempDatabase, tempDatabase } from "./temp-database.js";

/**
 * Each connection keeps up to 128 prepared statements and evicts the oldest one not used since it
 * was last passed over. These tests run more distinct statements than that, in and out of
 * transactions, and check that every one of them still does exactly what it says.
 */
describe("the SQLite statement cache", () => {
  let temp: TempDatabase;
  let store: SqliteStore;

  beforeEach(async () => {
    temp = tempDatabase();
    store = sqliteStore(temp.db);
    await store.handle.run("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)");
  });

  afterEach(() => temp.remove());

  // Distinct SQL text per key, so each is its own cached statement.
  const insert = (k: number) => `INSERT INTO t (k, v) VALUES (${k}, ?)`;
  const read = (k: number) => `SELECT v FROM t WHERE k = ${k}`;

  it("runs more distinct statements than it holds, and reruns evicted ones correctly", async () => {
    const keys = Array.from({ length: 300 }, (_, i) => i);
    await store.transaction(async (tx) => {
      for (const k of keys) await tx.run(insert(k), [k * 2]);
      // A statement used again and again stays cached while others come and go.
      for (const k of keys)
        expect(await tx.get<{ v: number }>(read(k % 7))).toEqual({ v: (k % 7) * 2 });
    }, openScope().scope);
    for (const k of keys) {
      expect(await store.handle.get<{ v: number }>(read(k))).toEqual({ v: k * 2 });
    }
    await store.transaction(async (tx) => {
      for (const k of keys) {
        const result = await tx.run(`UPDATE t SET v = v + 1 WHERE k = ${k}`);
        expect(result.changes).toBe(1);
      }
    }, openScope().scope);
    const rows = await store.handle.all<{ k: number; v: number }>("SELECT k, v FROM t ORDER BY k");
    expect(rows).toEqual(keys.map((k) => ({ k, v: k * 2 + 1 })));
  });
});
