import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type PostgresStore, postgresStore } from "../../../src/adapters/postgres/index.js";
import { openScope, storeFailure } from "../../conformance/transaction.js";
import { openSchema, type TestSchema } from "./pg-test.js";

/**
 * A transaction's statements run one at a time on its connection, in the order they were issued,
 * even when the work issues them without waiting: the first goes out at once, the rest queue behind
 * it, each starting only once the one before has settled, whatever its outcome.
 */
describe("postgresStore transaction statements issued without waiting", () => {
  let db: TestSchema;
  let store: PostgresStore;

  beforeEach(async () => {
    db = await openSchema();
    store = postgresStore(db.pool);
    await store.handle.query(
      "CREATE TABLE log (seq serial PRIMARY KEY, label text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())",
    );
  });

  afterEach(() => db.close());

  const labels = async () =>
    (await store.handle.query<{ label: string }>("SELECT label FROM log ORDER BY seq")).rows.map(
      (row) => row.label,
    );

  it("run one at a time, in the order issued, and all commit", async () => {
    const names = ["a", "b", "c", "d", "e"];
    await store.transaction(async (tx) => {
      // The first sleeps, so the others are issued while it runs and must queue behind it.
      const first = tx.query("SELECT pg_sleep(0.02)");
      const inserts = names.map((name) => tx.query("INSERT INTO log (label) VALUES ($1)", [name]));
      await Promise.all([first, ...inserts]);
    }, openScope().scope);
    expect(await labels()).toEqual(names);
  });

  it("a statement queued behind a failing one still runs, and the transaction rolls back", async () => {
    const failure = await storeFailure(
      store.transaction(async (tx) => {
        const bad = tx.query("SELECT * FROM no_such_table");
        const after = tx.query("INSERT INTO log (label) VALUES ('after')");
        const outcomes = await Promise.allSettled([bad, after]);
        expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"]);
        // Postgres refused the second because the first failed the transaction: it was sent.
        expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/aborted/);
        throw (outcomes[0] as PromiseRejectedResult).reason;
      }, openScope().scope),
    );
    expect(failure.kind).toBe("not_committed");
    expect(await labels()).toEqual([]);
  });

  it("a statement still queued when its transaction is aborted is never sent", async () => {
    const { scope, controller } = openScope();
    let queued: Promise<unknown> | undefined;
    const failure = await storeFailure(
      store.transaction(async (tx) => {
        const slow = tx.query("SELECT pg_sleep(0.05)");
        queued = tx.query("INSERT INTO log (label) VALUES ('queued')");
        queued.catch(() => {});
        controller.abort(new Error("caller gave up"));
        await slow;
      }, scope),
    );
    expect(failure.kind).toBe("not_committed");
    await expect(queued).rejects.toBeDefined();
    expect(await labels()).toEqual([]);
  });
});
