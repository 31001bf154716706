import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type PostgresSagaLog,
  type PostgresStore,
  postgresSagaLog,
  postgresStore,
} from "../../../src/adapters/postgres/index.js";
import {
  committed,
  createRunner,
  defineSaga,
  ErrorCode,
  notCommitted,
  SagaStatus,
} from "../../../src/index.js";
import { deferred } from "../../conformance/transaction.js";
import { openSchema, type TestSchema } from "./pg-test.js";

/**
 * A saga whose only step co-commits on the log's own Postgres database: its transaction creates the
 * saga's record and completes it, so two runs of one id race on that record's primary key.
 */
describe("a saga created by its first co-committed transaction on Postgres", () => {
  let db: TestSchema;
  let store: PostgresStore;
  let log: PostgresSagaLog;

  beforeEach(async () => {
    db = await openSchema({ max: 6 });
    store = postgresStore(db.pool);
    log = postgresSagaLog(db.pool, { schema: db.schema });
    await store.handle.query("CREATE TABLE orders (id text PRIMARY KEY, run text NOT NULL)");
    await log.ensureSchema();
  });

  afterEach(() => db.close());

  /** Each run inserts its order with its own tag, and waits at `gate` before its log write. */
  const orderSaga = (run: string, gate: Promise<void>) =>
    defineSaga("order", { input: z.object({ id: z.string() }) })
      .step("place", {
        store,
        kind: "retriable",
        output: z.object({ run: z.string() }),
        execute: async ({ input, handle }) => {
          // No ON CONFLICT: the row lock makes a second run wait here until the first commits.
          await handle.query("INSERT INTO orders (id, run) VALUES ($1, $2)", [input.id, run]);
          await gate;
          return { run };
        },
        probe: async ({ input, handle }) => {
          const { rows } = await handle.query<{ run: string }>(
            "SELECT run FROM orders WHERE id = $1",
            [input.id],
          );
          return rows[0] ? committed({ run: rows[0].run }) : notCommitted();
        },
      })
      .build();

  it("two runs of one id at once: one commits, the other rolls back and returns its outcome", async () => {
    const runner = createRunner({ log });
    const open = deferred();
    const first = runner.run(orderSaga("first", open.promise), { id: "o-1" }, { sagaId: "s-1" });
    const second = runner.run(orderSaga("second", open.promise), { id: "o-1" }, { sagaId: "s-1" });
    open.resolve();
    const results = await Promise.all([first, second]);
    const reports = results.map((r) => r._unsafeUnwrap());
    expect(reports.map((r) => r.status)).toEqual([SagaStatus.Completed, SagaStatus.Completed]);
    // Both report the run that committed: the loser's own work never became durable.
    const { rows } = await store.handle.query<{ run: string }>("SELECT run FROM orders");
    expect(rows).toHaveLength(1);
    const winner = rows[0]?.run;
    expect(reports.map((r) => r.outputs.place)).toEqual([{ run: winner }, { run: winner }]);
    const snapshot = await log.load("s-1");
    expect(snapshot?.record.status).toBe(SagaStatus.Completed);
    expect(snapshot?.entries.map((e) => [e.type, e.via, e.output])).toEqual([
      ["committed", "co_commit", { run: winner }],
    ]);
  });

  it("a run of an id taken with other input is refused and leaves the first saga's rows alone", async () => {
    const runner = createRunner({ log });
    const open = Promise.resolve();
    (await runner.run(orderSaga("first", open), { id: "o-1" }, { sagaId: "s-1" }))._unsafeUnwrap();
    const error = (
      await runner.run(orderSaga("second", open), { id: "o-2" }, { sagaId: "s-1" })
    )._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.SagaExists);
    const { rows } = await store.handle.query<{ id: string; run: string }>(
      "SELECT id, run FROM orders ORDER BY id",
    );
    expect(rows).toEqual([{ id: "o-1", run: "first" }]);
  });
});
