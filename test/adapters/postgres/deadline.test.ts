import type pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type PostgresStore, postgresStore } from "../../../src/adapters/postgres/index.js";
import { deferred, openScope, storeFailure } from "../../conformance/transaction.js";
import { waitFor } from "./commit-gate.js";
import { openSchema, type TestSchema } from "./pg-test.js";

describe("postgresStore deadlines and aborts", () => {
  let db: TestSchema;
  let store: PostgresStore;
  let holder: pg.PoolClient;

  const balance = async () =>
    (await store.handle.query<{ balance: number }>("SELECT balance FROM accounts WHERE id = 'a'"))
      .rows[0]?.balance;

  /** Backends of this test's pool that are waiting for a lock. */
  const waiting = async () =>
    (
      await db.admin.query(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
        [db.schema],
      )
    ).rows.length;

  beforeEach(async () => {
    db = await openSchema();
    store = postgresStore(db.pool);
    await store.handle.query(
      "CREATE TABLE accounts (id text PRIMARY KEY, balance integer NOT NULL)",
    );
    await store.handle.query("INSERT INTO accounts VALUES ('a', 100)");
    // Another session holds the row, so any update of it waits.
    holder = await db.admin.connect();
    await holder.query("BEGIN");
    await holder.query(`SELECT 1 FROM "${db.schema}".accounts WHERE id = 'a' FOR UPDATE`);
  });

  afterEach(async () => {
    await holder.query("ROLLBACK");
    holder.release();
    await db.close();
  });

  it("an abort ends a transaction blocked on a lock at once, without waiting for the lock", async () => {
    const { scope, controller } = openScope();
    const started = deferred();
    const running = storeFailure(
      store.transaction(async (tx) => {
        started.resolve();
        await tx.query("UPDATE accounts SET balance = balance - 10 WHERE id = 'a'");
      }, scope),
    );
    await started.promise;
    await waitFor("the update to wait for the row lock", async () =>
      (await waiting()) > 0 ? true : undefined,
    );
    // The lock is still held: if the abort waited for the statement, this would never settle.
    controller.abort(new Error("caller gave up"));
    const error = await running;
    expect(error.kind).toBe("not_committed");
    expect(error.message).toMatch(/aborted/);
    await holder.query("ROLLBACK");
    await holder.query("BEGIN");
    expect(await balance(), "the aborted transaction's update must never land").toBe(100);
    await waitFor("the destroyed connection's backend to go", async () =>
      (await waiting()) === 0 ? true : undefined,
    );
  });

  it("the server ends a statement that outlives the scope's deadline, even if the signal never fires", async () => {
    // A signal that never aborts: only the statement_timeout derived from the deadline can end this.
    const scope = { signal: new AbortController().signal, deadline: Date.now() + 300 };
    const error = await storeFailure(
      store.transaction(
        (tx) => tx.query("UPDATE accounts SET balance = balance - 10 WHERE id = 'a'"),
        scope,
      ),
    );
    expect(error.kind, "the transaction was rolled back").toBe("not_committed");
    expect(error.message).toMatch(/statement timeout/);
    await holder.query("ROLLBACK");
    await holder.query("BEGIN");
    expect(await balance()).toBe(100);
  });

  it("sets the server timeouts from a wall-clock deadline, and none from a deadline that is not", async () => {
    const settings = (deadline: number, enforceDeadline = true) =>
      postgresStore(db.pool, { enforceDeadline }).transaction(
        async (tx) =>
          (
            await tx.query<{ statement: number; idle: number }>(
              `SELECT (SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout') AS statement,
                      (SELECT setting::int FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout') AS idle`,
            )
          ).rows[0],
        { signal: new AbortController().signal, deadline },
      );
    const set = await settings(Date.now() + 3_600_000);
    expect(set?.statement, "about an hour, in milliseconds").toBeGreaterThan(3_000_000);
    expect(set?.statement).toBeLessThanOrEqual(3_600_000);
    expect(set?.idle).toBe(set?.statement);
    // A virtual clock's deadline, in 2023: the transaction must not time out at once on the server.
    expect(await settings(1_700_000_010_000)).toEqual({ statement: 0, idle: 0 });
    expect(await settings(Date.now() + 3_600_000, false)).toEqual({ statement: 0, idle: 0 });
  });
});
