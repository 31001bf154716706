import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type PostgresHandle,
  type PostgresStore,
  type PostgresWrite,
  type PostgresWriteResult,
  postgresStore,
} from "../../../src/adapters/postgres/index.js";
import type { Clock } from "../../../src/core/clock.js";
import { ErrorCode } from "../../../src/core/errors.js";
import { type AtomicWrite, runAtomic } from "../../../src/core/run-atomic.js";
import { waitFor } from "./commit-gate.js";
import { openSchema, type TestSchema } from "./pg-test.js";

/**
 * runAtomic hands the Postgres store a scope whose abort the store watches without an AbortSignal.
 * These tests end that scope between two writes and while a statement waits on a lock, and check
 * that nothing is committed, the failure is classified as before, and no connection is left behind.
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

type Write = AtomicWrite<PostgresHandle, PostgresWrite, PostgresWriteResult>;

describe("runAtomic on a postgresStore, ended by its deadline or its caller", () => {
  let db: TestSchema;
  let store: PostgresStore;

  const balances = async () =>
    (
      await store.handle.query<{ balance: number }>("SELECT balance FROM accounts ORDER BY id")
    ).rows.map((row) => row.balance);

  /** Moves 10 from a to b; `between` runs while the credit is being built, after the debit. */
  const transfer = (between: () => void = () => {}): Write[] => [
    {
      name: "debit",
      build: () => ({ text: "UPDATE accounts SET balance = balance - 10 WHERE id = 'a'" }),
    },
    {
      name: "credit",
      build: () => {
        between();
        return { text: "UPDATE accounts SET balance = balance + $1 WHERE id = 'b'", values: [10] };
      },
    },
  ];

  /** Every connection is back in the pool and usable: a plain transfer goes through. */
  const stillWorks = async () => {
    await waitFor("every pooled connection to be returned", async () =>
      db.pool.idleCount === db.pool.totalCount ? true : undefined,
    );
    const before = await balances();
    const result = await runAtomic(store, transfer(), { require: "atomic" });
    expect(result.isOk(), "a later transfer commits").toBe(true);
    expect(await balances()).toEqual([(before[0] as number) - 10, (before[1] as number) + 10]);
  };

  beforeEach(async () => {
    db = await openSchema();
    store = postgresStore(db.pool);
    await store.handle.query(
      "CREATE TABLE accounts (id text PRIMARY KEY, balance integer NOT NULL)",
    );
    await store.handle.query("INSERT INTO accounts VALUES ('a', 100), ('b', 0)");
  });

  afterEach(() => db.close());

  it("a deadline that passes between two writes rolls the transaction back and is a timeout", async () => {
    const clock = manualClock();
    const result = await runAtomic(store, transfer(clock.fire), {
      require: "atomic",
      clock,
      timeoutMs: 60_000,
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

  it("a deadline that passes while a statement waits on a lock ends the transaction at once", async () => {
    // Another session holds b's row, so the credit waits.
    const holder = await db.admin.connect();
    try {
      await holder.query("BEGIN");
      await holder.query(`SELECT 1 FROM "${db.schema}".accounts WHERE id = 'b' FOR UPDATE`);
      const clock = manualClock();
      const running = runAtomic(store, transfer(), { require: "atomic", clock, timeoutMs: 60_000 });
      await waitFor("the credit to wait for the row lock", async () => {
        const { rows } = await db.admin.query(
          "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
          [db.schema],
        );
        return rows.length > 0 ? true : undefined;
      });
      // The lock is still held: if the deadline waited for the statement, this would never settle.
      clock.fire();
      const error = (await running)._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.WriteFailed);
      if (error.code === ErrorCode.WriteFailed) expect(error.kind).toBe("timeout");
    } finally {
      await holder.query("ROLLBACK");
      holder.release();
    }
    expect(await balances(), "nothing of the transfer landed").toEqual([100, 0]);
    await stillWorks();
  });
});
