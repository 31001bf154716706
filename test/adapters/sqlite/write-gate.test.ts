import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type SqliteStore, sqliteStore } from "../../../src/adapters/sqlite/index.js";
import { WriteGate } from "../../../src/adapters/sqlite/write-gate.js";
import { openScope, settle } from "../../conformance/transaction.js";
import { type TempDatabase, tempDatabase } from "./temp-database.js";

describe("the SQLite write gate", () => {
  let temp: TempDatabase;
  let first: SqliteStore;
  let second: SqliteStore;

  const labels = async () =>
    (await first.handle.all<{ label: string }>("SELECT label FROM rows ORDER BY id")).map(
      (row) => row.label,
    );

  beforeEach(async () => {
    // busy_timeout 0: any lock contention between the connections would fail at once with
    // SQLITE_BUSY instead of being hidden by a wait.
    temp = tempDatabase({ busyTimeoutMs: 0 });
    first = sqliteStore(temp.db);
    second = sqliteStore(temp.reopen({ busyTimeoutMs: 0 }));
    await first.handle.run("CREATE TABLE rows (id INTEGER PRIMARY KEY, label TEXT NOT NULL)");
  });

  afterEach(() => temp.remove());

  it("serializes concurrent transactions and root writes, in arrival order, without SQLITE_BUSY", async () => {
    const { scope } = openScope();
    const insert = (handle: SqliteStore["handle"], label: string) =>
      handle.run("INSERT INTO rows (label) VALUES (?)", [label]);
    const outcomes = await Promise.allSettled([
      first.transaction(async (tx) => {
        await insert(tx, "t1-a");
        await settle();
        await insert(tx, "t1-b");
      }, scope),
      insert(second.handle, "r1"),
      second.transaction(async (tx) => {
        await insert(tx, "t2-a");
        await settle();
        await insert(tx, "t2-b");
      }, scope),
      insert(first.handle, "r2"),
    ]);
    expect(
      outcomes.filter((o) => o.status === "rejected"),
      "no writer may fail with SQLITE_BUSY",
    ).toEqual([]);
    expect(await labels()).toEqual(["t1-a", "t1-b", "r1", "t2-a", "t2-b", "r2"]);
  });

  it("is shared by every opener of the same file in the process", () => {
    const gates = new Set(
      [temp.db, temp.reopen()].map((db) => {
        const engine = (db as unknown as Record<symbol, { gate: WriteGate }>)[
          Symbol.for("lockstep.sqlite.engine")
        ];
        return engine?.gate;
      }),
    );
    expect(gates.size).toBe(1);
    expect([...gates][0]).toBeInstanceOf(WriteGate);
  });

  it("hands the gate over in FIFO order and lets an aborted waiter leave the queue", async () => {
    const gate = new WriteGate();
    const order: string[] = [];
    const release = await gate.acquire();
    const controller = new AbortController();
    const waiters = [
      gate.acquire().then((done) => {
        order.push("a");
        done();
      }),
      gate.acquire(controller.signal).then(
        () => order.push("aborted waiter ran"),
        () => order.push("aborted waiter left"),
      ),
      gate.acquire().then((done) => {
        order.push("c");
        done();
        done();
      }),
    ];
    controller.abort();
    await settle();
    expect(order, "nobody runs while the gate is held").toEqual(["aborted waiter left"]);
    release();
    await Promise.all(waiters);
    expect(order).toEqual(["aborted waiter left", "a", "c"]);
    const again = await gate.acquire();
    again();
  });
});
