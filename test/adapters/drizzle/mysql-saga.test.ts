import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/mysql2";
import type { Pool as CallbackPool } from "mysql2";
import type { Result } from "neverthrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { drizzleSagaLog, drizzleStore } from "../../../src/adapters/drizzle/index.js";
import type { MysqlSagaLog } from "../../../src/adapters/mysql/index.js";
import { classifyError, StoreError } from "../../../src/core/error-kinds.js";
import type { SagaReport } from "../../../src/core/report.js";
import { createRunner } from "../../../src/core/runner.js";
import { defineSaga } from "../../../src/core/saga.js";
import { committed, notCommitted } from "../../../src/core/step.js";
import { openScope, storeFailure } from "../../conformance/transaction.js";
import { causeWhere, drizzleMysqlDatabase, mysqlKv } from "./drizzle-test.js";

type Opened = Awaited<ReturnType<typeof drizzleMysqlDatabase>>;

function reportOf(result: Result<SagaReport, unknown>): SagaReport {
  if (result.isOk()) return result.value;
  const report = (result.error as { report?: SagaReport }).report;
  if (report === undefined)
    throw new Error(`The run failed without a report: ${String(result.error)}`);
  return report;
}

describe("drizzleStore on mysql2 in sagas", () => {
  let opened: Opened;
  let store: ReturnType<typeof drizzleStore<Opened["db"]>>;

  beforeEach(async () => {
    opened = await drizzleMysqlDatabase();
    store = drizzleStore(opened.db, { id: "kv-db" });
  });
  afterEach(() => opened.close());

  const keys = async () => {
    const [rows] = await opened.database.admin.query(
      `SELECT \`key\` FROM \`${opened.database.name}\`.kv ORDER BY \`key\``,
    );
    return (rows as { key: string }[]).map((row) => row.key);
  };

  const saga = (fail: boolean) =>
    defineSaga("drizzle-mysql", { input: z.object({ id: z.string() }) })
      .step("insert", {
        store,
        kind: "pivot",
        output: z.object({ id: z.string() }),
        execute: async ({ input, handle }) => {
          await handle.insert(mysqlKv).values({ key: input.id, value: "v" });
          const [row] = await handle.select().from(mysqlKv).where(eq(mysqlKv.key, input.id));
          if (fail) throw new StoreError("not_committed", "a rule failed after the write");
          return { id: row?.key ?? "missing" };
        },
        probe: async ({ input, handle }) =>
          (await handle.select().from(mysqlKv).where(eq(mysqlKv.key, input.id))).length > 0
            ? committed({ id: input.id })
            : notCommitted(),
        retry: { attempts: 1 },
      })
      .build();

  it("a step co-commits its Drizzle writes with its log record", async () => {
    // Typed as the MySQL log it is, from the database's mysql2 client.
    const log: MysqlSagaLog = drizzleSagaLog(opened.db, { store });
    const report = reportOf(await createRunner({ log }).run(saga(false), { id: "o1" }));
    expect(report.status).toBe("completed");
    expect(report.steps[0]?.strategy).toBe("co_committed");
    expect(report.outputs).toEqual({ insert: { id: "o1" } });
    expect(await keys()).toEqual(["o1"]);
    const entries = (await log.load(report.sagaId))?.entries ?? [];
    expect(entries.filter((e) => e.type === "committed").map((e) => e.via)).toEqual(["co_commit"]);
  });

  it("a failing step rolls back its Drizzle writes and its log record together", async () => {
    const log = drizzleSagaLog(opened.db, { store });
    const report = reportOf(await createRunner({ log }).run(saga(true), { id: "o1" }));
    expect(report.status).not.toBe("completed");
    expect(await keys()).toEqual([]);
    const entries = (await log.load(report.sagaId))?.entries ?? [];
    expect(entries.filter((e) => e.type === "committed")).toEqual([]);
  });

  it("a step on a store the log does not live in writes through the root database and is probed", async () => {
    const report = reportOf(await createRunner().run(saga(false), { id: "o2" }));
    expect(report.status).toBe("completed");
    expect(report.steps[0]?.strategy).toBe("saga");
    expect(await keys()).toEqual(["o2"]);
  });

  it("classifies a driver error wrapped by Drizzle by walking its cause: a duplicate key is not_committed", async () => {
    await store.handle.insert(mysqlKv).values({ key: "dup", value: "1" });
    let caught: unknown;
    try {
      await store.handle.insert(mysqlKv).values({ key: "dup", value: "2" });
    } catch (error) {
      caught = error;
    }
    expect((caught as Error).constructor.name).toBe("DrizzleQueryError");
    expect(classifyError(caught, store.classifyError)).toBe("not_committed");
    const failure = await storeFailure(
      store.transaction(async (tx) => {
        await tx.insert(mysqlKv).values({ key: "fresh", value: "1" });
        await tx.insert(mysqlKv).values({ key: "dup", value: "3" });
      }, openScope().scope),
    );
    expect(failure.kind).toBe("not_committed");
    const driverError = causeWhere(failure, (e) => (e as { errno?: unknown }).errno === 1062);
    expect(driverError, "the driver's duplicate key must be in the cause chain").toBeDefined();
    expect(await keys()).toEqual(["dup"]);
  });

  it("refuses transaction control and nested transactions inside the Drizzle transaction", async () => {
    const failure = await storeFailure(
      store.transaction(async (tx) => {
        await tx.insert(mysqlKv).values({ key: "inside", value: "1" });
        await tx.execute("COMMIT");
      }, openScope().scope),
    );
    expect(failure.kind).toBe("not_committed");
    expect(failure.message).toMatch(/Transaction control statements cannot run/);
    const nested = await storeFailure(
      store.transaction(async (tx) => {
        await tx.transaction(async (inner) => {
          await inner.insert(mysqlKv).values({ key: "nested", value: "1" });
        });
      }, openScope().scope),
    );
    expect(nested.message).toMatch(/Transaction control statements cannot run/);
    expect(await keys()).toEqual([]);
  });

  it("tx.rollback() rolls the lockstep transaction back as a not-applied failure", async () => {
    const failure = await storeFailure(
      store.transaction(async (tx) => {
        await tx.insert(mysqlKv).values({ key: "inside", value: "1" });
        tx.rollback();
      }, openScope().scope),
    );
    expect(failure.kind).toBe("not_committed");
    const rollback = causeWhere(failure, (e) => e?.constructor.name === "TransactionRollbackError");
    expect(rollback, "Drizzle's rollback error must be the cause").toBeDefined();
    expect(await keys()).toEqual([]);
  });

  it("a step's root database refuses a query once the step's call was abandoned", async () => {
    const { scope, controller } = openScope();
    const handle = store.handleFor?.(scope, { sagaId: "s", step: "x", key: "k", fencingToken: 1 });
    if (handle === undefined) throw new Error("The Drizzle store must bind its handle to a call.");
    controller.abort(new Error("gave up"));
    let caught: unknown;
    try {
      await handle.insert(mysqlKv).values({ key: "late", value: "1" });
    } catch (error) {
      caught = error;
    }
    expect(classifyError(caught)).toBe("not_committed");
    expect(await keys()).toEqual([]);
  });

  it("a guarded write counts the rows it matched, as mysqlStore does", async () => {
    await store.handle.insert(mysqlKv).values({ key: "k", value: "same" });
    const scope = openScope().scope;
    const write = (value: string) => (tx: typeof store.handle) =>
      tx.update(mysqlKv).set({ value }).where(eq(mysqlKv.key, "k"));
    // Setting a row to the values it holds still matches it: 1, not InnoDB's 0 rows changed.
    expect(store.affected(await store.apply(store.handle, write("same"), scope))).toBe(1);
    const missing = (tx: typeof store.handle) =>
      tx.update(mysqlKv).set({ value: "x" }).where(eq(mysqlKv.key, "absent"));
    expect(store.affected(await store.apply(store.handle, missing, scope))).toBe(0);
  });

  it("wraps a Drizzle database over a mysql2 callback pool through the pool's promise API", async () => {
    const callbackPool = (opened.database.pool as unknown as { pool: CallbackPool }).pool;
    const db = drizzle(callbackPool);
    const overCallback = drizzleStore(db, { id: "kv-db" });
    await overCallback.transaction(async (tx) => {
      await tx.insert(mysqlKv).values({ key: "via-callback-pool", value: "1" });
    }, openScope().scope);
    expect(await keys()).toEqual(["via-callback-pool"]);
  });
});
