import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type MysqlSagaLog,
  type MysqlStore,
  mysqlSagaLog,
  mysqlStore,
  mysqlStoreId,
} from "../../../src/adapters/mysql/index.js";
import {
  committed,
  createRunner,
  defineSaga,
  LockstepDefinitionError,
  notCommitted,
  SagaStatus,
} from "../../../src/index.js";
import type { SagaLogError } from "../../../src/log/saga-log.js";
import { logFailure, sagaRecord, stepEntry } from "../../conformance/saga-log.js";
import { openScope, storeFailure } from "../../conformance/transaction.js";
import { openDatabase, type TestDatabase } from "./mysql-test.js";

const NOW = 1_700_000_000_500;

describe("co-committing saga log records in a mysqlStore transaction", () => {
  let db: TestDatabase;
  let store: MysqlStore;
  let log: MysqlSagaLog;

  const orders = async () =>
    (await store.handle.query<{ id: string }>("SELECT id FROM orders ORDER BY id")).rows.map(
      (r) => r.id,
    );

  beforeEach(async () => {
    db = await openDatabase();
    store = mysqlStore(db.pool);
    log = mysqlSagaLog(db.pool);
    await store.handle.query("CREATE TABLE orders (id VARCHAR(32) PRIMARY KEY) ENGINE=InnoDB");
    await log.create(sagaRecord("saga-1"));
  });

  afterEach(() => db.close());

  it("belongs to the store of the same database", () => {
    expect(log.coCommit.storeId).toBe(store.id);
    expect(store.id).toBe(mysqlStoreId(db.pool));
    expect(store.id).toBe(`mysql:127.0.0.1:3306/${db.name}`);
  });

  it("commits the business write and the log record together", async () => {
    await store.transaction(async (tx) => {
      await tx.query("INSERT INTO orders (id) VALUES ('o-1')");
      await log.coCommit.write(tx, "saga-1", 1, {
        entries: [
          stepEntry("reserve", "committed", { output: { orderId: "o-1" }, via: "co_commit" }),
        ],
        status: SagaStatus.Completed,
        now: NOW,
      });
    }, openScope().scope);
    expect(await orders()).toEqual(["o-1"]);
    const snapshot = await log.load("saga-1");
    expect(snapshot?.record.status).toBe(SagaStatus.Completed);
    expect(snapshot?.entries.map((e) => [e.seq, e.type, e.output])).toEqual([
      [1, "committed", { orderId: "o-1" }],
    ]);
  });

  it("rolls back both when the transaction fails after both were written", async () => {
    await storeFailure(
      store.transaction(async (tx) => {
        await tx.query("INSERT INTO orders (id) VALUES ('o-1')");
        await log.coCommit.write(tx, "saga-1", 1, {
          entries: [stepEntry("reserve", "committed")],
          status: SagaStatus.Completed,
          now: NOW,
        });
        throw new Error("a later statement failed");
      }, openScope().scope),
    );
    expect(await orders()).toEqual([]);
    const snapshot = await log.load("saga-1");
    expect(snapshot?.entries, "the log record must roll back with the business write").toEqual([]);
    expect(snapshot?.record.status).toBe(SagaStatus.Running);
  });

  it("a stale fencing token refuses the log write and rolls back the business write with it", async () => {
    expect(await log.acquireLease("saga-1", "recoverer", 1_000, NOW + 10_000)).toBe(2);
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
      }, openScope().scope),
    );
    expect(refusal?.reason).toBe("stale_token");
    expect(error.kind).toBe("not_committed");
    expect(await orders()).toEqual([]);
  });

  it("creates a saga inside the transaction, and refuses a second one with its id", async () => {
    await store.transaction(async (tx) => {
      await log.coCommit.create(tx, sagaRecord("saga-2"), [stepEntry("reserve", "intent")]);
      const again = await logFailure(log.coCommit.create(tx, sagaRecord("saga-2")));
      expect(again.reason).toBe("exists");
      await tx.query("INSERT INTO orders (id) VALUES ('o-2')");
    }, openScope().scope);
    expect(await orders()).toEqual(["o-2"]);
    expect((await log.load("saga-2"))?.entries.map((e) => e.type)).toEqual(["intent"]);
  });

  it("refuses the root handle and a transaction of another store, writing nothing", async () => {
    await expect(
      log.coCommit.write(store.handle, "saga-1", 1, { status: SagaStatus.Completed, now: NOW }),
    ).rejects.toThrow(LockstepDefinitionError);
    const other = mysqlStore(db.pool, { id: "mysql:elsewhere" });
    const error = await storeFailure(
      other.transaction(
        (tx) => log.coCommit.write(tx, "saga-1", 1, { status: SagaStatus.Completed, now: NOW }),
        openScope().scope,
      ),
    );
    expect(String((error.cause as Error).message)).toMatch(
      /a transaction handle of "mysql:elsewhere"/,
    );
    expect((await log.load("saga-1"))?.record.status).toBe(SagaStatus.Running);
  });
});

describe("a saga whose steps write to the log's own MySQL database", () => {
  let db: TestDatabase;
  let funds: MysqlStore;
  let log: MysqlSagaLog;

  beforeEach(async () => {
    db = await openDatabase();
    funds = mysqlStore(db.pool, { id: "funds" });
    log = mysqlSagaLog(db.pool, { store: funds });
    await funds.handle.query(
      "CREATE TABLE accounts (id VARCHAR(32) PRIMARY KEY, balance INT NOT NULL) ENGINE=InnoDB",
    );
    await funds.handle.query("INSERT INTO accounts VALUES ('alice', 100), ('merchant', 0)");
  });

  afterEach(() => db.close());

  it("commits each step together with its log record, and the report says so", async () => {
    const saga = defineSaga("transfer", { input: z.object({ amount: z.number() }) })
      .step("debit", {
        store: funds,
        kind: "retriable",
        output: z.object({ done: z.boolean() }),
        execute: async ({ input, handle }) => {
          await handle.query("UPDATE accounts SET balance = balance - ? WHERE id = 'alice'", [
            input.amount,
          ]);
          return { done: true };
        },
        probe: async () => notCommitted(),
      })
      .step("credit", {
        store: funds,
        kind: "retriable",
        output: z.object({ done: z.boolean() }),
        execute: async ({ input, handle }) => {
          await handle.query("UPDATE accounts SET balance = balance + ? WHERE id = 'merchant'", [
            input.amount,
          ]);
          return { done: true };
        },
        probe: async () => committed({ done: true }),
      })
      .build();
    const report = (await createRunner({ log }).run(saga, { amount: 30 }))._unsafeUnwrap();
    expect(report.steps.map((s) => [s.name, s.status, s.strategy])).toEqual([
      ["debit", "committed", "co_committed"],
      ["credit", "committed", "co_committed"],
    ]);
    const entries = (await log.load(report.sagaId))?.entries ?? [];
    expect(entries.filter((e) => e.via === "co_commit").map((e) => e.step)).toEqual([
      "debit",
      "credit",
    ]);
    const { rows } = await funds.handle.query<{ id: string; balance: number }>(
      "SELECT id, balance FROM accounts ORDER BY id",
    );
    expect(rows.map((r) => [r.id, r.balance])).toEqual([
      ["alice", 70],
      ["merchant", 30],
    ]);
  });
});
