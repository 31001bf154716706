import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type SqliteStore,
  type SqliteWrite,
  sqliteStore,
} from "../../../src/adapters/sqlite/index.js";
import { ErrorCode } from "../../../src/core/errors.js";
import { runAtomic } from "../../../src/core/run-atomic.js";
import { type TempDatabase, tempDatabase } from "./temp-database.js";

describe("runAtomic on a sqliteStore", () => {
  let temp: TempDatabase;
  let store: SqliteStore;

  const balances = async () =>
    await store.handle.all<{ id: string; balance: number; version: number }>(
      "SELECT id, balance, version FROM accounts ORDER BY id",
    );

  const move = (version: number) => [
    {
      name: "debit",
      guarded: true,
      build: (): SqliteWrite => ({
        sql: "UPDATE accounts SET balance = balance - 10, version = version + 1 WHERE id = 'a' AND version = ?",
        params: [version],
      }),
    },
    {
      name: "credit",
      build: (): SqliteWrite => ({
        sql: "UPDATE accounts SET balance = balance + 10, version = version + 1 WHERE id = 'b'",
      }),
    },
  ];

  beforeEach(async () => {
    temp = tempDatabase();
    store = sqliteStore(temp.db);
    await store.handle.run(
      "CREATE TABLE accounts (id TEXT PRIMARY KEY, balance INTEGER NOT NULL, version INTEGER NOT NULL)",
    );
    await store.handle.run("INSERT INTO accounts VALUES ('a', 100, 1), ('b', 0, 1)");
  });

  afterEach(() => temp.remove());

  it("applies every write in one transaction and reports the strategy", async () => {
    const result = await runAtomic(store, move(1), { require: "atomic" });
    const report = result._unsafeUnwrap();
    expect(report.strategy).toBe("transaction");
    expect(report.results.map((r) => r.changes)).toEqual([1, 1]);
    expect(await balances()).toEqual([
      { id: "a", balance: 90, version: 2 },
      { id: "b", balance: 10, version: 2 },
    ]);
  });

  it("a guarded write that loses is a conflict, and nothing of the work is applied", async () => {
    const result = await runAtomic(store, [...move(7)].reverse(), { require: "atomic" });
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.Conflict);
    expect(await balances(), "the credit before the lost guard must roll back").toEqual([
      { id: "a", balance: 100, version: 1 },
      { id: "b", balance: 0, version: 1 },
    ]);
  });
});
