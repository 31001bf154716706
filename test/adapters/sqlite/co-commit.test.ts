import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  openSqlite,
  type SqliteSagaLog,
  type SqliteStore,
  sqliteSagaLog,
  sqliteStore,
} from "../../../src/adapters/sqlite/index.js";
import type { SagaLogError } from "../../../src/log/saga-log.js";
import { LockstepDefinitionError } from "../../../src/model/definition-error.js";
import { SagaStatus } from "../../../src/model/records.js";
import { logFailure, sagaRecord, stepEntry } from "../../conformance/saga-log.js";
import { causedBy, openScope, storeFailure } from "../../conformance/transaction.js";
import { type TempDatabase, tempDatabase } from "./temp-database.js";

const NOW = 1_700_000_000_500;

describe("co-committing saga log records in a sqliteStore transaction", () => {
  let temp: TempDatabase;
  let store: SqliteStore;
  let log: SqliteSagaLog;

  const orders = async () =>
    (await store.handle.all<{ id: string }>("SELECT id FROM orders ORDER BY id")).map((r) => r.id);

  beforeEach(async () => {
    temp = tempDatabase();
    store = sqliteStore(temp.db);
    log = sqliteSagaLog(temp.db);
    await store.handle.run("CREATE TABLE orders (id TEXT PRIMARY KEY)");
    await log.create(sagaRecord("saga-1"));
  });

  afterEach(() => temp.remove());

  it("belongs to the store of the same database", () => {
    expect(log.coCommit.storeId).toBe(store.id);
    expect(log.coCommit.storeId).toBe(temp.db.id);
  });

  it("commits the business write and the log record together", async () => {
    const { scope } = openScope();
    await store.transaction(async (tx) => {
      await tx.run("INSERT INTO orders (id) VALUES ('o-1')");
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
        await tx.run("INSERT INTO orders (id) VALUES ('o-1')");
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
        await tx.run("INSERT INTO orders (id) VALUES ('o-1')");
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
      await tx.run("INSERT INTO orders (id) VALUES ('o-1')");
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

  it("refuses the root handle and a transaction of another database, writing nothing", async () => {
    await expect(
      log.coCommit.write(store.handle, "saga-1", 1, { status: SagaStatus.Completed, now: NOW }),
    ).rejects.toThrow(LockstepDefinitionError);
    const other = openSqlite(":memory:");
    try {
      const { scope } = openScope();
      const error = await storeFailure(
        sqliteStore(other).transaction(
          (tx) => log.coCommit.write(tx, "saga-1", 1, { status: SagaStatus.Completed, now: NOW }),
          scope,
        ),
      );
      expect(LockstepDefinitionError.is(error.cause)).toBe(true);
      expect(String((error.cause as Error).message)).toMatch(
        /transaction handle of "sqlite::memory:/,
      );
    } finally {
      other.close();
    }
    expect((await log.load("saga-1"))?.record.status).toBe(SagaStatus.Running);
  });

  it("a plain log call inside the store's transaction is refused instead of waiting for it forever", async () => {
    const { scope } = openScope();
    let refusal: SagaLogError | undefined;
    await store.transaction(async () => {
      refusal = await logFailure(
        log.write("saga-1", 1, { status: SagaStatus.Completed, now: NOW }),
      );
    }, scope);
    expect(refusal?.reason).toBe("io");
    expect(refusal?.message).toMatch(/coCommit/);
    expect((await log.load("saga-1"))?.record.status).toBe(SagaStatus.Running);
  });
});
