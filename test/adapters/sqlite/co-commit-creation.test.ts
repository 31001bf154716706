import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type SqliteSagaLog,
  type SqliteStore,
  sqliteSagaLog,
  sqliteStore,
} from "../../../src/adapters/sqlite/index.js";
import {
  committed,
  compensated,
  createRunner,
  defineSaga,
  ErrorCode,
  notCommitted,
  type SagaEvent,
  type SagaLog,
  StoreError,
} from "../../../src/index.js";
import { type SagaSnapshot, SagaStatus } from "../../../src/model/records.js";
import { type InvariantContext, logWellFormed } from "../../../src/testing/index.js";
import { logFailure, sagaRecord, stepEntry } from "../../conformance/saga-log.js";
import { openScope, storeFailure } from "../../conformance/transaction.js";
import { type TempDatabase, tempDatabase } from "./temp-database.js";

/** What the log-well-formed invariant says of one saga. */
async function wellFormed(snapshot: SagaSnapshot | undefined): Promise<unknown> {
  if (snapshot === undefined) return ["no saga"];
  const context = { sagas: [snapshot] } as unknown as InvariantContext<unknown>;
  return logWellFormed().check(context);
}

/** Counts the log calls that commit on their own and those made inside a store transaction. */
function counted(log: SqliteSagaLog) {
  const calls: string[] = [];
  const wrapped = new Proxy(log, {
    get(target, property, receiver) {
      if (property === "coCommit") {
        return {
          storeId: target.coCommit.storeId,
          create: (...args: Parameters<typeof target.coCommit.create>) => {
            calls.push("coCommit.create");
            return target.coCommit.create(...args);
          },
          write: (...args: Parameters<typeof target.coCommit.write>) => {
            calls.push("coCommit.write");
            return target.coCommit.write(...args);
          },
        };
      }
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (property === "create" || property === "write") calls.push(String(property));
        return value.apply(target, args);
      };
    },
  }) as SagaLog;
  return { log: wrapped, calls };
}

describe("coCommit.create on SQLite", () => {
  let temp: TempDatabase;
  let store: SqliteStore;
  let log: SqliteSagaLog;

  beforeEach(async () => {
    temp = tempDatabase();
    store = sqliteStore(temp.db);
    log = sqliteSagaLog(temp.db);
    await store.handle.run("CREATE TABLE orders (id TEXT PRIMARY KEY)");
  });

  afterEach(() => temp.remove());

  it("creates the saga and its entries with the transaction's writes", async () => {
    const { scope } = openScope();
    await store.transaction(async (tx) => {
      await tx.run("INSERT INTO orders (id) VALUES ('o-1')");
      await log.coCommit.create(tx, sagaRecord("saga-1"), [
        stepEntry("reserve", "committed", { via: "co_commit" }),
      ]);
    }, scope);
    const snapshot = await log.load("saga-1");
    expect(snapshot?.record.status).toBe(SagaStatus.Running);
    expect(snapshot?.entries.map((e) => [e.seq, e.type, e.token])).toEqual([[1, "committed", 1]]);
  });

  it("leaves no saga when the transaction rolls back", async () => {
    const { scope } = openScope();
    await storeFailure(
      store.transaction(async (tx) => {
        await tx.run("INSERT INTO orders (id) VALUES ('o-1')");
        await log.coCommit.create(tx, sagaRecord("saga-1"), [stepEntry("reserve", "committed")]);
        throw new Error("a later statement failed");
      }, scope),
    );
    expect(await log.load("saga-1")).toBeUndefined();
    expect(await store.handle.all("SELECT id FROM orders")).toEqual([]);
  });

  it("refuses an id that exists, and the transaction's writes roll back with it", async () => {
    await log.create(sagaRecord("saga-1"));
    const { scope } = openScope();
    const failure = await storeFailure(
      store.transaction(async (tx) => {
        await tx.run("INSERT INTO orders (id) VALUES ('o-1')");
        await log.coCommit.create(tx, sagaRecord("saga-1"));
      }, scope),
    );
    expect((failure.cause as { reason?: string }).reason).toBe("exists");
    expect(await store.handle.all("SELECT id FROM orders")).toEqual([]);
    expect(await logFailure(log.create(sagaRecord("saga-1")))).toMatchObject({ reason: "exists" });
  });
});

describe("a saga whose steps co-commit on the SQLite log's database", () => {
  let temp: TempDatabase;
  let store: SqliteStore;
  let log: SqliteSagaLog;

  const orderSaga = (options: { failSecond?: boolean } = {}) =>
    defineSaga("orders", { input: z.object({ id: z.string() }) })
      .step("reserve", {
        store,
        kind: "compensatable",
        output: z.object({ id: z.string() }),
        execute: async ({ input, handle }) => {
          await handle.run("INSERT INTO orders (id) VALUES (?)", [`${input.id}:reserve`]);
          return { id: input.id };
        },
        probe: async ({ input, handle }) =>
          (await handle.get("SELECT id FROM orders WHERE id = ?", [`${input.id}:reserve`]))
            ? committed({ id: input.id })
            : notCommitted(),
        compensate: async () => compensated(),
      })
      .step("charge", {
        store,
        kind: "pivot",
        output: z.object({ charged: z.boolean() }),
        execute: async ({ input, handle }) => {
          await handle.run("INSERT INTO orders (id) VALUES (?)", [`${input.id}:charge`]);
          if (options.failSecond) throw new StoreError("not_committed", "card declined");
          return { charged: true };
        },
        probe: async ({ input, handle }) =>
          (await handle.get("SELECT id FROM orders WHERE id = ?", [`${input.id}:charge`]))
            ? committed({ charged: true })
            : notCommitted(),
      })
      .build();

  const orders = async () =>
    (await store.handle.all<{ id: string }>("SELECT id FROM orders ORDER BY id")).map((r) => r.id);

  beforeEach(async () => {
    temp = tempDatabase();
    store = sqliteStore(temp.db);
    log = sqliteSagaLog(temp.db);
    await store.handle.run("CREATE TABLE orders (id TEXT PRIMARY KEY)");
  });

  afterEach(() => temp.remove());

  it("commits once: the saga is created, run and completed by one transaction", async () => {
    const { log: countingLog, calls } = counted(log);
    const runner = createRunner({ log: countingLog });
    const report = (
      await runner.run(orderSaga(), { id: "o-1" }, { sagaId: "saga-1" })
    )._unsafeUnwrap();
    expect(report.status).toBe(SagaStatus.Completed);
    expect(report.steps.map((s) => [s.strategy, s.attempts])).toEqual([
      ["co_committed", 1],
      ["co_committed", 1],
    ]);
    expect(calls).toEqual(["coCommit.create"]);
    const snapshot = await log.load("saga-1");
    expect(snapshot?.record).toMatchObject({
      status: SagaStatus.Completed,
      leaseOwner: null,
      leaseExpiresAt: null,
    });
    expect(snapshot?.entries.map((e) => [e.step, e.type, e.via])).toEqual([
      ["reserve", "committed", "co_commit"],
      ["charge", "committed", "co_commit"],
    ]);
    expect(await orders()).toEqual(["o-1:charge", "o-1:reserve"]);
    expect(await wellFormed(snapshot)).toEqual([]);
  });

  it("records a saga whose first transaction rolled back, with why, once it moves on", async () => {
    const { log: countingLog, calls } = counted(log);
    const runner = createRunner({ log: countingLog });
    const error = (
      await runner.run(orderSaga({ failSecond: true }), { id: "o-1" }, { sagaId: "saga-1" })
    )._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    // The transaction failed before its log write; the saga is created by the write that starts
    // compensating, and completed by the next.
    expect(calls).toEqual(["create", "write"]);
    expect(await orders(), "the rolled-back transaction left nothing").toEqual([]);
    const snapshot = await log.load("saga-1");
    expect(snapshot?.record.status).toBe(SagaStatus.Compensated);
    expect(snapshot?.entries.map((e) => [e.step, e.type])).toEqual([
      ["reserve", "intent"],
      ["reserve", "not_committed"],
      ["charge", "intent"],
      ["charge", "not_committed"],
      ["charge", "compensation_skipped"],
      ["reserve", "compensation_skipped"],
    ]);
    expect(await wellFormed(snapshot)).toEqual([]);
  });

  it("the same id submitted twice at once runs once: the second finds the first's saga", async () => {
    const events: SagaEvent[] = [];
    const runner = createRunner({ log, onEvent: (event) => events.push(event) });
    const saga = orderSaga();
    const [first, second] = await Promise.all([
      runner.run(saga, { id: "o-1" }, { sagaId: "saga-1" }),
      runner.run(saga, { id: "o-1" }, { sagaId: "saga-1" }),
    ]);
    expect(first._unsafeUnwrap().status).toBe(SagaStatus.Completed);
    expect(second._unsafeUnwrap().status).toBe(SagaStatus.Completed);
    expect(await orders()).toEqual(["o-1:charge", "o-1:reserve"]);
    expect((await log.load("saga-1"))?.entries).toHaveLength(2);
    // Each run that announced itself also ends: the loser on the status the winner recorded.
    const types = events.filter((e) => e.type === "saga.started" || e.type === "saga.status");
    expect(types.map((e) => (e.type === "saga.status" ? e.status : e.type))).toEqual([
      "saga.started",
      "saga.started",
      "completed",
      "completed",
    ]);
  });

  it("finds the saga through its own creation when the log cannot be read after its transaction failed", async () => {
    const runner = createRunner({ log });
    const first = (
      await runner.run(orderSaga(), { id: "o-1" }, { sagaId: "saga-1" })
    )._unsafeUnwrap();
    // The second run's transaction fails on the first's rows, and its read-back of the log fails
    // too: it learns the id is taken only when it creates the record that would say so.
    let loads = 0;
    const flaky = new Proxy(log, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (property !== "load") return typeof value === "function" ? value.bind(target) : value;
        return async (sagaId: string) => {
          loads++;
          if (loads === 1) throw new Error("the log is unreachable for a moment");
          return target.load(sagaId);
        };
      },
    }) as SagaLog;
    const { log: counting, calls } = counted(flaky as SqliteSagaLog);
    const again = await createRunner({ log: counting }).run(
      orderSaga(),
      { id: "o-1" },
      { sagaId: "saga-1" },
    );
    expect(again._unsafeUnwrap()).toEqual(first);
    expect(calls).toEqual(["create"]);
    expect(loads).toBe(2);
    expect(await orders()).toEqual(["o-1:charge", "o-1:reserve"]);
  });

  it("another input under a taken id is refused, and its transaction wrote nothing", async () => {
    const runner = createRunner({ log });
    (await runner.run(orderSaga(), { id: "o-1" }, { sagaId: "saga-1" }))._unsafeUnwrap();
    const error = (
      await runner.run(orderSaga(), { id: "o-2" }, { sagaId: "saga-1" })
    )._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.SagaExists);
    expect(await orders()).toEqual(["o-1:charge", "o-1:reserve"]);
  });
});
