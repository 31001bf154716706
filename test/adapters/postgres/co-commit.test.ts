import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type PostgresSagaLog,
  type PostgresStore,
  postgresSagaLog,
  postgresStore,
  postgresStoreId,
} from "../../../src/adapters/postgres/index.js";
import {
  committed,
  createRunner,
  defineSaga,
  ErrorCode,
  LockstepDefinitionError,
  notCommitted,
  type SagaEvent,
  SagaStatus,
} from "../../../src/index.js";
import type { SagaLogError } from "../../../src/log/saga-log.js";
import { logFailure, sagaRecord, stepEntry } from "../../conformance/saga-log.js";
import { causedBy, deferred, openScope, storeFailure } from "../../conformance/transaction.js";
import { type CommitGate, installCommitGate, waitFor } from "./commit-gate.js";
import { openDatabase, openSchema, type TestDatabase, type TestSchema } from "./pg-test.js";

const NOW = 1_700_000_000_500;

describe("co-committing saga log records in a postgresStore transaction", () => {
  let db: TestSchema;
  let store: PostgresStore;
  let log: PostgresSagaLog;

  const orders = async () =>
    (await store.handle.query<{ id: string }>("SELECT id FROM orders ORDER BY id")).rows.map(
      (r) => r.id,
    );

  beforeEach(async () => {
    db = await openSchema();
    store = postgresStore(db.pool);
    log = postgresSagaLog(db.pool, { schema: db.schema });
    await store.handle.query("CREATE TABLE orders (id text PRIMARY KEY)");
    await log.create(sagaRecord("saga-1"));
  });

  afterEach(() => db.close());

  it("belongs to the store of the same database", () => {
    expect(log.coCommit.storeId).toBe(store.id);
    expect(store.id).toBe(postgresStoreId(db.pool));
    expect(store.id).toMatch(/^postgres:[^:]+:\d+\/\w+$/);
  });

  it("commits the business write and the log record together", async () => {
    const { scope } = openScope();
    await store.transaction(async (tx) => {
      await tx.query("INSERT INTO orders (id) VALUES ('o-1')");
      await log.coCommit.write(tx, "saga-1", 1, {
        entries: [
          stepEntry("reserve", "committed", { output: { orderId: "o-1" }, via: "co_commit" }),
        ],
        status: SagaStatus.Completed,
        now: NOW,
      });
    }, scope);
    expect(await orders()).toEqual(["o-1"]);
    const snapshot = await log.load("saga-1");
    expect(snapshot?.record.status).toBe(SagaStatus.Completed);
    expect(snapshot?.entries.map((e) => [e.seq, e.type, e.output])).toEqual([
      [1, "committed", { orderId: "o-1" }],
    ]);
  });

  it("rolls back both when the transaction fails after both were written", async () => {
    const { scope } = openScope();
    await storeFailure(
      store.transaction(async (tx) => {
        await tx.query("INSERT INTO orders (id) VALUES ('o-1')");
        await log.coCommit.write(tx, "saga-1", 1, {
          entries: [stepEntry("reserve", "committed")],
          status: SagaStatus.Completed,
          now: NOW,
        });
        throw new Error("a later statement failed");
      }, scope),
    );
    expect(await orders()).toEqual([]);
    const snapshot = await log.load("saga-1");
    expect(snapshot?.entries, "the log record must roll back with the business write").toEqual([]);
    expect(snapshot?.record.status).toBe(SagaStatus.Running);
  });

  it("a stale fencing token refuses the log write and rolls back the business write with it", async () => {
    expect(await log.acquireLease("saga-1", "recoverer", 1_000, NOW + 10_000)).toBe(2);
    const { scope } = openScope();
    let refusal: SagaLogError | undefined;
    const error = await storeFailure(
      store.transaction(async (tx) => {
        await tx.query("INSERT INTO orders (id) VALUES ('o-1')");
        refusal = await logFailure(
          log.coCommit.write(tx, "saga-1", 1, {
            entries: [stepEntry("reserve", "committed")],
            now: NOW,
          }),
        );
        throw refusal;
      }, scope),
    );
    expect(refusal?.reason).toBe("stale_token");
    expect(error.kind).toBe("not_committed");
    expect(causedBy(error, refusal)).toBe(true);
    expect(await orders(), "a zombie runner's business write must not commit").toEqual([]);
    expect((await log.load("saga-1"))?.entries).toEqual([]);
  });

  it("a co-committed write inside a savepoint rolls back with that savepoint", async () => {
    const { scope } = openScope();
    await store.transaction(async (tx) => {
      await tx.query("INSERT INTO orders (id) VALUES ('o-1')");
      await tx
        .savepoint(async (sp) => {
          await log.coCommit.write(sp, "saga-1", 1, { status: SagaStatus.Completed, now: NOW });
          throw new Error("undo the nested scope");
        })
        .catch(() => {});
    }, scope);
    expect(await orders()).toEqual(["o-1"]);
    expect((await log.load("saga-1"))?.record.status).toBe(SagaStatus.Running);
  });

  it("refuses the root handle and a transaction of another store, writing nothing", async () => {
    await expect(
      log.coCommit.write(store.handle, "saga-1", 1, { status: SagaStatus.Completed, now: NOW }),
    ).rejects.toThrow(LockstepDefinitionError);
    const other = postgresStore(db.pool, { id: "postgres:elsewhere" });
    const { scope } = openScope();
    const error = await storeFailure(
      other.transaction(
        (tx) => log.coCommit.write(tx, "saga-1", 1, { status: SagaStatus.Completed, now: NOW }),
        scope,
      ),
    );
    expect(LockstepDefinitionError.is(error.cause)).toBe(true);
    expect(String((error.cause as Error).message)).toMatch(
      /a transaction handle of "postgres:elsewhere"/,
    );
    expect((await log.load("saga-1"))?.record.status).toBe(SagaStatus.Running);
  });

  it("holds the saga row until the step's transaction ends, so a takeover waits for it", async () => {
    const { scope } = openScope();
    const written = deferred();
    const finish = deferred();
    const running = store.transaction(async (tx) => {
      await log.coCommit.write(tx, "saga-1", 1, {
        entries: [stepEntry("reserve", "intent")],
        now: NOW,
      });
      written.resolve();
      await finish.promise;
      await tx.query("INSERT INTO orders (id) VALUES ('o-1')");
      await log.coCommit.write(tx, "saga-1", 1, {
        entries: [stepEntry("reserve", "committed", { via: "co_commit" })],
        now: NOW,
      });
    }, scope);
    await written.promise;
    let takenWith: number | undefined;
    const takeover = log.acquireLease("saga-1", "recoverer", 1_000, NOW + 10_000).then((token) => {
      takenWith = token;
    });
    await waitFor("the takeover to wait for the step's row lock", async () => {
      const { rows } = await db.admin.query(
        "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
        [db.schema],
      );
      return rows.length > 0 ? true : undefined;
    });
    expect(takenWith, "the takeover must not pass a step in flight").toBeUndefined();
    finish.resolve();
    await running;
    await takeover;
    expect(takenWith).toBe(2);
    expect(await orders()).toEqual(["o-1"]);
    expect((await log.load("saga-1"))?.entries.map((e) => [e.type, e.token])).toEqual([
      ["intent", 1],
      ["committed", 1],
    ]);
  });
});

/**
 * reserve (compensatable) and capture (retriable) write to the log's own database and are
 * co-committed with their log records; confirm (the pivot) writes to a second database and is an
 * ordinary probed step.
 */
function transferSaga(funds: PostgresStore, orders: PostgresStore) {
  return defineSaga("transfer", { input: z.object({ orderId: z.string(), amount: z.number() }) })
    .step("reserve", {
      store: funds,
      kind: "compensatable",
      output: z.object({ holdId: z.string() }),
      execute: async ({ input, handle, key }) => {
        await handle.query("UPDATE accounts SET balance = balance - $1 WHERE id = 'alice'", [
          input.amount,
        ]);
        await handle.query("INSERT INTO holds (id, amount, status) VALUES ($1, $2, 'held')", [
          key,
          input.amount,
        ]);
        return { holdId: key };
      },
      probe: async ({ handle, key }) =>
        (await handle.query("SELECT 1 FROM holds WHERE id = $1", [key])).rowCount === 1
          ? committed({ holdId: key })
          : notCommitted(),
      compensate: async () => {
        throw new Error("not expected in these tests");
      },
    })
    .step("confirm", {
      store: orders,
      kind: "pivot",
      output: z.object({ orderId: z.string() }),
      execute: async ({ input, handle, outputs }) => {
        await handle.query("INSERT INTO orders (id, hold_id) VALUES ($1, $2)", [
          input.orderId,
          outputs.reserve.holdId,
        ]);
        return { orderId: input.orderId };
      },
      probe: async ({ input, handle }) =>
        (await handle.query("SELECT 1 FROM orders WHERE id = $1", [input.orderId])).rowCount === 1
          ? committed({ orderId: input.orderId })
          : notCommitted(),
    })
    .step("capture", {
      store: funds,
      kind: "retriable",
      output: z.object({ captured: z.literal(true) }),
      execute: async ({ handle, outputs }) => {
        const moved = await handle.query(
          "UPDATE holds SET status = 'captured' WHERE id = $1 AND status = 'held'",
          [outputs.reserve.holdId],
        );
        if (moved.rowCount === 1) {
          await handle.query(
            "UPDATE accounts SET balance = balance + (SELECT amount FROM holds WHERE id = $1) WHERE id = 'merchant'",
            [outputs.reserve.holdId],
          );
        }
        return { captured: true as const };
      },
    })
    .build();
}

describe("a saga on the log's own Postgres database", () => {
  let main: TestSchema;
  let other: TestDatabase;
  let funds: PostgresStore;
  let orders: PostgresStore;
  let log: PostgresSagaLog;

  const balances = async () =>
    Object.fromEntries(
      (
        await funds.handle.query<{ id: string; balance: number }>(
          "SELECT id, balance FROM accounts ORDER BY id",
        )
      ).rows.map((r) => [r.id, r.balance]),
    );

  beforeEach(async () => {
    main = await openSchema();
    other = await openDatabase();
    funds = postgresStore(main.pool);
    orders = postgresStore(other.pool);
    log = postgresSagaLog(main.pool, { schema: main.schema });
    await funds.handle.query(
      "CREATE TABLE accounts (id text PRIMARY KEY, balance integer NOT NULL CHECK (balance >= 0))",
    );
    await funds.handle.query(
      "CREATE TABLE holds (id text PRIMARY KEY, amount integer NOT NULL, status text NOT NULL)",
    );
    await funds.handle.query("INSERT INTO accounts VALUES ('alice', 100), ('merchant', 0)");
    await orders.handle.query("CREATE TABLE orders (id text PRIMARY KEY, hold_id text NOT NULL)");
  });

  afterEach(async () => {
    await other.close();
    await main.close();
  });

  it("commits each of its steps together with their log records, and the report says so", async () => {
    expect(funds.id).toBe(log.coCommit.storeId);
    expect(orders.id).not.toBe(log.coCommit.storeId);
    const report = (
      await createRunner({ log }).run(transferSaga(funds, orders), { orderId: "o-1", amount: 30 })
    )._unsafeUnwrap();
    expect(report.steps.map((s) => [s.name, s.status, s.strategy])).toEqual([
      ["reserve", "committed", "co_committed"],
      ["confirm", "committed", "saga"],
      ["capture", "committed", "co_committed"],
    ]);
    const entries = (await log.load(report.sagaId))?.entries ?? [];
    expect(entries.filter((e) => e.via === "co_commit").map((e) => e.step)).toEqual([
      "reserve",
      "capture",
    ]);
    expect(await balances()).toEqual({ alice: 70, merchant: 30 });
  });

  it("a zombie runner's next co-committed step is refused by the fencing token and writes nothing", async () => {
    const stalled = deferred();
    const inside = deferred();
    const slowHandle = {
      query: async (sql: string, params?: readonly unknown[]) => {
        const result = await orders.handle.query(sql, params);
        if (sql.startsWith("INSERT INTO orders")) {
          inside.resolve();
          await stalled.promise;
        }
        return result;
      },
    } as PostgresStore["handle"];
    // Steps get their handle from handleFor when a store has one: the stalling handle replaces both.
    const slowOrders: PostgresStore = {
      ...orders,
      handle: slowHandle,
      handleFor: () => slowHandle,
    };
    const zombie = createRunner({ log, leaseTtlMs: 60_000 });
    const running = zombie.run(
      transferSaga(funds, slowOrders),
      { orderId: "o-1", amount: 30 },
      { sagaId: "saga-zombie" },
    );
    await inside.promise;
    // The zombie's lease has "expired" for a recoverer whose clock is far ahead: it takes over.
    expect(await log.acquireLease("saga-zombie", "recoverer", 60_000, Date.now() + 3_600_000)).toBe(
      2,
    );
    stalled.resolve();
    expect((await running)._unsafeUnwrapErr().code).toBe(ErrorCode.LeaseLost);
    const hold = await funds.handle.query<{ status: string }>("SELECT status FROM holds");
    expect(
      hold.rows.map((r) => r.status),
      "the refused capture left the hold alone",
    ).toEqual(["held"]);
    expect(await balances()).toEqual({ alice: 70, merchant: 0 });
    const entries = (await log.load("saga-zombie"))?.entries ?? [];
    expect(entries.filter((e) => e.step === "capture")).toEqual([]);
  });

  describe("when the backend is terminated during a co-committed COMMIT", () => {
    let gate: CommitGate;

    beforeEach(async () => {
      gate = await installCommitGate(main.admin, `"${main.schema}"."holds"`);
    });

    afterEach(() => gate.open());

    it("the log, written in that transaction, says it did not land, and the step runs again once", async () => {
      const events: SagaEvent[] = [];
      const runner = createRunner({ log, onEvent: (event) => events.push(event) });
      await gate.close();
      const running = runner.run(
        transferSaga(funds, orders),
        { orderId: "o-1", amount: 30 },
        { sagaId: "saga-1" },
      );
      await gate.terminate(await gate.blockedCommit(main.schema));
      await gate.open();
      const report = (await running)._unsafeUnwrap();
      expect(report.steps[0]).toMatchObject({
        name: "reserve",
        status: "committed",
        strategy: "co_committed",
        attempts: 2,
      });
      expect(
        events.filter((e) => e.type === "step.probed"),
        "a co-committed step is settled by its own log, not by a probe",
      ).toEqual([]);
      const reserve = ((await log.load("saga-1"))?.entries ?? []).filter(
        (e) => e.step === "reserve",
      );
      expect(reserve.map((e) => [e.type, e.attempt])).toEqual([
        ["intent", 1],
        ["not_committed", 1],
        ["committed", 2],
      ]);
      const holds = await funds.handle.query("SELECT id FROM holds");
      expect(holds.rowCount, "the lost attempt left nothing; the retry wrote once").toBe(1);
      expect(await balances()).toEqual({ alice: 70, merchant: 30 });
    });
  });
});
