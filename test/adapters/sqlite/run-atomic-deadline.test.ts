import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type SqliteHandle,
  type SqliteStore,
  type SqliteWrite,
  type SqliteWriteResult,
  sqliteStore,
} from "../../../src/adapters/sqlite/index.js";
import type { Clock } from "../../../src/core/clock.js";
import { ErrorCode } from "../../../src/core/errors.js";
import { type AtomicWrite, runAtomic } from "../../../src/core/run-atomic.js";
import { deferred, openScope } from "../../conformance/transaction.js";
import { type TempDatabase, tempDatabase } from "./temp-database.js";

/**
 * runAtomic hands the SQLite store a scope whose abort the store watches without an AbortSignal.
 * These tests end that scope at each point a transaction can be at — waiting for the write gate,
 * between two writes, before it began — and check that nothing is applied, the failure is
 * classified as before, and the write gate is left free.
 */

/** A clock whose deadline timers fire only when the test says so. */
function manualClock(): Clock & { fire(): void } {
  const timers = new Set<() => void>();
  return {
    now: () => Date.now(),
    setTimer(callback) {
      timers.add(callback);
      return () => timers.delete(callback);
    },
    fire() {
      const due = [...timers];
      timers.clear();
      for (const callback of due) callback();
    },
  };
}

type Write = AtomicWrite<SqliteHandle, SqliteWrite, SqliteWriteResult>;

describe("runAtomic on a sqliteStore, ended by its deadline or its caller", () => {
  let temp: TempDatabase;
  let store: SqliteStore;

  const balances = async () =>
    (await store.handle.all<{ balance: number }>("SELECT balance FROM accounts ORDER BY id")).map(
      (row) => row.balance,
    );

  /** Moves 10 from a to b; `between` runs while the credit is being built, after the debit. */
  const transfer = (between: () => void = () => {}): Write[] => [
    {
      name: "debit",
      build: () => ({ sql: "UPDATE accounts SET balance = balance - 10 WHERE id = 'a'" }),
    },
    {
      name: "credit",
      build: () => {
        between();
        return { sql: "UPDATE accounts SET balance = balance + 10 WHERE id = 'b'" };
      },
    },
  ];

  /** The gate is free and the database writable: a plain transfer goes through. */
  const stillWorks = async () => {
    const before = await balances();
    const result = await runAtomic(store, transfer(), { require: "atomic" });
    expect(result.isOk(), "a later transfer commits").toBe(true);
    expect(await balances()).toEqual([(before[0] as number) - 10, (before[1] as number) + 10]);
  };

  beforeEach(async () => {
    temp = tempDatabase();
    store = sqliteStore(temp.db);
    await store.handle.run("CREATE TABLE accounts (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)");
    await store.handle.run("INSERT INTO accounts VALUES ('a', 100), ('b', 0)");
  });

  afterEach(() => temp.remove());

  it("a deadline that passes between two writes rolls the transaction back and is a timeout", async () => {
    const clock = manualClock();
    const result = await runAtomic(store, transfer(clock.fire), {
      require: "atomic",
      clock,
      timeoutMs: 1_000,
    });
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.WriteFailed);
    if (error.code === ErrorCode.WriteFailed) {
      expect(error.kind).toBe("timeout");
      expect(error.index).toBe(1);
    }
    expect(await balances(), "the debit was rolled back").toEqual([100, 0]);
    await stillWorks();
  });

  it("a caller's abort between two writes rolls the transaction back", async () => {
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    const result = await runAtomic(
      store,
      transfer(() => controller.abort(reason)),
      { require: "atomic", signal: controller.signal },
    );
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.WriteFailed);
    if (error.code === ErrorCode.WriteFailed) {
      expect(error.kind).toBe("unknown");
      expect(error.cause).toBe(reason);
    }
    expect(await balances(), "the debit was rolled back").toEqual([100, 0]);
    await stillWorks();
  });

  it("an already-aborted caller signal writes nothing", async () => {
    const result = await runAtomic(store, transfer(), {
      require: "atomic",
      signal: AbortSignal.abort(new Error("too late")),
    });
    expect(result.isErr()).toBe(true);
    expect(await balances()).toEqual([100, 0]);
    await stillWorks();
  });

  it("a deadline that passes while waiting for the write gate leaves the queue and writes nothing", async () => {
    const held = deferred();
    const entered = deferred();
    const holder = store.transaction(async (tx) => {
      await tx.run("UPDATE accounts SET balance = balance + 1 WHERE id = 'a'");
      entered.resolve();
      await held.promise;
    }, openScope().scope);
    await entered.promise;
    const clock = manualClock();
    const other = sqliteStore(temp.reopen());
    const waiting = runAtomic(other, transfer(), { require: "atomic", clock, timeoutMs: 1_000 });
    clock.fire();
    const error = (await waiting)._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.WriteFailed);
    if (error.code === ErrorCode.WriteFailed) expect(error.kind).toBe("timeout");
    held.resolve();
    await holder;
    expect(await balances(), "only the holder's write landed").toEqual([101, 0]);
    await stillWorks();
  });

  it("a caller's abort while waiting for the write gate leaves the queue and writes nothing", async () => {
    const held = deferred();
    const entered = deferred();
    const holder = store.transaction(async (tx) => {
      await tx.run("UPDATE accounts SET balance = balance + 1 WHERE id = 'a'");
      entered.resolve();
      await held.promise;
    }, openScope().scope);
    await entered.promise;
    const controller = new AbortController();
    const waiting = runAtomic(store, transfer(), {
      require: "atomic",
      signal: controller.signal,
    });
    const queued = runAtomic(store, transfer(), { require: "atomic" });
    controller.abort(new Error("caller gave up"));
    expect((await waiting).isErr()).toBe(true);
    held.resolve();
    await holder;
    expect((await queued).isOk(), "the writer queued behind the aborted one still runs").toBe(true);
    expect(await balances(), "the holder's write and one transfer landed").toEqual([91, 10]);
    await stillWorks();
  });

  it("on the system clock, a deadline that passes while waiting for the write gate still ends the call", async () => {
    const held = deferred();
    const entered = deferred();
    const holder = store.transaction(async (tx) => {
      await tx.run("UPDATE accounts SET balance = balance + 1 WHERE id = 'a'");
      entered.resolve();
      await held.promise;
    }, openScope().scope);
    await entered.promise;
    // The holder keeps the gate until the test releases it, after runAtomic has settled: only the
    // deadline's timer can end this call.
    const error = (
      await runAtomic(store, transfer(), { require: "atomic", timeoutMs: 20 })
    )._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.WriteFailed);
    if (error.code === ErrorCode.WriteFailed) expect(error.kind).toBe("timeout");
    held.resolve();
    await holder;
    expect(await balances(), "only the holder's write landed").toEqual([101, 0]);
    await stillWorks();
  });

  it("sets no deadline timer when the transaction commits before runAtomic returns", async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    // The write gate yields to the event loop once it has been busy for a few milliseconds in one
    // turn (see YIELD_AFTER_MS); the setup's writes, on a loaded machine, may have used them up.
    await new Promise((resolve) => setImmediate(resolve));
    const before = timers();
    const result = runAtomic(store, transfer(), { require: "atomic" });
    expect(timers(), "no deadline timer was needed").toBe(before);
    expect((await result).isOk()).toBe(true);
  });

  it("refuses a root-handle write made while its writes are being built, rather than wait for itself", async () => {
    let rootWrite: Promise<unknown> | undefined;
    const result = await runAtomic(
      store,
      transfer(() => {
        rootWrite = store.handle.run("UPDATE accounts SET balance = 0 WHERE id = 'b'");
      }),
      { require: "atomic" },
    );
    expect(result.isOk(), "the transfer itself commits").toBe(true);
    await expect(rootWrite).rejects.toMatchObject({ kind: "not_committed" });
    expect(await balances()).toEqual([90, 10]);
  });

  it("refuses a runAtomic on the same database started while its writes are being built", async () => {
    let inner: ReturnType<typeof runAtomic> | undefined;
    const result = await runAtomic(
      store,
      transfer(() => {
        inner = runAtomic(store, transfer(), { require: "atomic" });
      }),
      { require: "atomic" },
    );
    expect(result.isOk()).toBe(true);
    expect((await inner)?.isErr(), "the nested transaction would wait for the outer one").toBe(
      true,
    );
    expect(await balances(), "only the outer transfer landed").toEqual([90, 10]);
    await stillWorks();
  });
});
