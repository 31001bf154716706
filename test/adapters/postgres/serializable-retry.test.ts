import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PostgresTransactionHandle } from "../../../src/adapters/postgres/index.js";
import { postgresStore, sqlstateOf } from "../../../src/adapters/postgres/index.js";
import { deferred, openScope, storeFailure } from "../../conformance/transaction.js";
import { openSchema, type TestSchema } from "./pg-test.js";

/** Whether a SQLSTATE appears anywhere in an error's `.cause` chain. */
function hasSqlstate(error: unknown, code: string): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 16 && typeof current === "object" && current !== null; depth++) {
    if (sqlstateOf(current) === code) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

describe("postgresStore under serializable isolation", () => {
  let db: TestSchema;

  beforeEach(async () => {
    db = await openSchema();
    await db.pool.query("CREATE TABLE doctors (name text PRIMARY KEY, on_call boolean NOT NULL)");
    await db.pool.query("INSERT INTO doctors VALUES ('alice', true), ('bob', true)");
  });

  afterEach(() => db.close());

  /**
   * The classic write skew: each doctor goes off call if someone else is still on call. Both
   * transactions read before either writes (the latches force that interleaving on the first run),
   * which no serial order allows, so Postgres fails one of them with 40001.
   */
  function offCall(name: string, readDone: () => void, otherRead: Promise<void>, runs: string[]) {
    return async (tx: PostgresTransactionHandle) => {
      runs.push(name);
      const { rows } = await tx.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM doctors WHERE on_call",
      );
      readDone();
      await otherRead;
      if ((rows[0]?.n ?? 0) >= 2) {
        await tx.query("UPDATE doctors SET on_call = false WHERE name = $1", [name]);
      }
      return rows[0]?.n;
    };
  }

  const onCall = async () =>
    (await db.pool.query<{ name: string }>("SELECT name FROM doctors WHERE on_call")).rows.length;

  it("reruns the whole transaction after a real serialization failure, reaching a serial outcome", async () => {
    const store = postgresStore(db.pool, { isolation: "serializable" });
    const aliceRead = deferred();
    const bobRead = deferred();
    const runs: string[] = [];
    const { scope } = openScope();
    const seen = await Promise.all([
      store.transaction(offCall("alice", aliceRead.resolve, bobRead.promise, runs), scope),
      store.transaction(offCall("bob", bobRead.resolve, aliceRead.promise, runs), scope),
    ]);
    expect(runs, "exactly one of the two ran a second time").toHaveLength(3);
    expect([...seen].sort(), "the rerun saw the other's committed write").toEqual([1, 2]);
    expect(await onCall(), "a serial order leaves one doctor on call").toBe(1);
  });

  it("with one attempt, the serialization failure surfaces as transient and its writes are gone", async () => {
    const store = postgresStore(db.pool, { isolation: "serializable", attempts: 1 });
    const aliceRead = deferred();
    const bobRead = deferred();
    const runs: string[] = [];
    const { scope } = openScope();
    const outcomes = await Promise.allSettled([
      store.transaction(offCall("alice", aliceRead.resolve, bobRead.promise, runs), scope),
      store.transaction(offCall("bob", bobRead.resolve, aliceRead.promise, runs), scope),
    ]);
    expect(runs).toHaveLength(2);
    const failures = outcomes.filter((o) => o.status === "rejected");
    expect(failures, "one of the write-skewed transactions must fail").toHaveLength(1);
    const error = await storeFailure(Promise.reject((failures[0] as PromiseRejectedResult).reason));
    expect(error.kind).toBe("transient");
    expect(hasSqlstate(error, "40001"), error.message).toBe(true);
    expect(await onCall(), "only the committed one went off call").toBe(1);
  });

  it("under read committed the same interleaving commits both: no serialization check, no rerun", async () => {
    const store = postgresStore(db.pool);
    const aliceRead = deferred();
    const bobRead = deferred();
    const runs: string[] = [];
    const { scope } = openScope();
    await Promise.all([
      store.transaction(offCall("alice", aliceRead.resolve, bobRead.promise, runs), scope),
      store.transaction(offCall("bob", bobRead.resolve, aliceRead.promise, runs), scope),
    ]);
    expect(runs).toHaveLength(2);
    expect(await onCall(), "the anomaly serializable isolation prevents").toBe(0);
  });

  it("a real deadlock (40P01) is retried when attempts allow, under any isolation", async () => {
    const store = postgresStore(db.pool, { attempts: 2 });
    const aliceLocked = deferred();
    const bobLocked = deferred();
    const runs: string[] = [];
    // Each locks its own row, then the other's: Postgres breaks the cycle by failing one (after its
    // deadlock_timeout), which then runs again once the survivor committed.
    const crossing =
      (first: string, second: string, locked: () => void, other: Promise<void>) =>
      async (tx: PostgresTransactionHandle) => {
        runs.push(first);
        await tx.query("UPDATE doctors SET on_call = NOT on_call WHERE name = $1", [first]);
        locked();
        await other;
        await tx.query("UPDATE doctors SET on_call = NOT on_call WHERE name = $1", [second]);
      };
    const { scope } = openScope();
    await Promise.all([
      store.transaction(crossing("alice", "bob", aliceLocked.resolve, bobLocked.promise), scope),
      store.transaction(crossing("bob", "alice", bobLocked.resolve, aliceLocked.promise), scope),
    ]);
    expect(runs, "the deadlock victim ran again").toHaveLength(3);
    expect(await onCall(), "each transaction flipped both doctors: back where they started").toBe(
      2,
    );
  });
});
