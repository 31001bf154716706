import { eq, sql } from "drizzle-orm";
import { alias, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { drizzleSagaLog, drizzleStore, guarded } from "../../../src/adapters/drizzle/index.js";
import { createMemoryStore, memoryPut } from "../../../src/adapters/memory/index.js";
import {
  classifyError,
  committed,
  createRunner,
  defineSaga,
  explain,
  notCommitted,
  runAtomic,
} from "../../../src/index.js";
import { SagaLogError } from "../../../src/log/saga-log.js";
import { SagaStatus } from "../../../src/model/records.js";
import { sagaRecord, stepEntry } from "../../conformance/saga-log.js";
import { openScope, storeFailure } from "../../conformance/transaction.js";
import { drizzleD1Database, kv } from "./drizzle-edge-test.js";
import { causeWhere, rejectionOf } from "./drizzle-test.js";

const NOW = 1_700_000_000_500;
const orders = sqliteTable("orders", {
  id: text("id").primaryKey(),
  amount: integer("amount").notNull(),
});

type Opened = Awaited<ReturnType<typeof drizzleD1Database>>;

/** Whether `error` or anything in its cause chain is the log's refusal `reason`. */
const refusedAs = (error: unknown, reason: string) =>
  causeWhere(error, (e) => SagaLogError.is(e) && e.reason === reason) !== undefined;

describe("drizzleStore on D1: Drizzle writes in one batch with the saga log's records", () => {
  let opened: Opened;
  let store: ReturnType<typeof drizzleStore<Opened["db"]>>;
  let log: ReturnType<typeof drizzleSagaLog<Opened["db"]>>;
  const orderIds = async () =>
    (await opened.db.select({ id: orders.id }).from(orders).orderBy(orders.id)).map((r) => r.id);

  beforeEach(async () => {
    opened = await drizzleD1Database();
    store = drizzleStore(opened.db, { id: "orders-d1", tablePrefix: opened.prefix });
    log = drizzleSagaLog(opened.db, { store, tablePrefix: opened.prefix });
    await opened.db.run(sql`DROP TABLE IF EXISTS orders`);
    await opened.db.run(
      sql`CREATE TABLE orders (id TEXT PRIMARY KEY, amount INTEGER NOT NULL CHECK (amount > 0))`,
    );
  });

  it("applies the queued Drizzle writes and the log record together", async () => {
    await log.create(sagaRecord("saga-1"));
    await store.deferredBatch(async (batch) => {
      void batch.batch([batch.insert(orders).values({ id: "o-1", amount: 5 })]);
      await log.coCommit.write(batch as never, "saga-1", 1, {
        entries: [stepEntry("reserve", "committed", { output: { id: "o-1" }, via: "co_commit" })],
        status: SagaStatus.Completed,
        now: NOW,
      });
      expect(await orderIds(), "nothing is applied before the batch is sent").toEqual([]);
    }, openScope().scope);
    expect(await orderIds()).toEqual(["o-1"]);
    const snapshot = await log.load("saga-1");
    expect(snapshot?.record.status).toBe(SagaStatus.Completed);
    expect(snapshot?.entries.map((e) => [e.seq, e.type])).toEqual([[1, "committed"]]);
  });

  it("a token that goes stale before the batch is sent makes the whole batch apply nothing", async () => {
    await log.create(sagaRecord("saga-1", { leaseExpiresAt: NOW }));
    const error = await rejectionOf(() =>
      store.deferredBatch(async (batch) => {
        void batch.insert(orders).values({ id: "o-1", amount: 5 }).run();
        await log.coCommit.write(batch as never, "saga-1", 1, {
          entries: [stepEntry("reserve", "committed")],
          now: NOW,
        });
        // A recoverer takes the saga over before the batch is sent: the runner is now a zombie.
        expect(await log.acquireLease("saga-1", "recoverer", 1_000, NOW + 1)).toBe(2);
      }, openScope().scope),
    );
    expect(refusedAs(error, "stale_token")).toBe(true);
    expect(await orderIds(), "a zombie runner's business write must not land").toEqual([]);
    expect((await log.load("saga-1"))?.entries).toEqual([]);
  });

  it("a Drizzle write D1 refuses leaves the log record unwritten too, classified not_committed", async () => {
    await log.create(sagaRecord("saga-1"));
    const error = await storeFailure(
      store.deferredBatch(async (batch) => {
        void batch.batch([batch.insert(orders).values({ id: "o-1", amount: -5 })]);
        await log.coCommit.write(batch as never, "saga-1", 1, {
          entries: [stepEntry("reserve", "committed")],
          status: SagaStatus.Completed,
          now: NOW,
        });
      }, openScope().scope),
    );
    expect(error.kind).toBe("not_committed");
    expect(await orderIds()).toEqual([]);
    expect((await log.load("saga-1"))?.record.status).toBe(SagaStatus.Running);
  });

  function orderSaga() {
    const mail = createMemoryStore({ id: "mail", tier: "plain" });
    return defineSaga("d1-drizzle-order", { input: z.object({ id: z.string() }) })
      .step("hold", {
        store: mail,
        kind: "compensatable",
        output: z.object({ held: z.boolean() }),
        execute: async ({ input, handle }) => {
          await handle.apply(memoryPut(`hold:${input.id}`, "held"));
          return { held: true };
        },
        probe: async () => committed({ held: true }),
        compensate: async () => ({ status: "compensated" as const }),
      })
      .step("place", {
        store,
        kind: "pivot",
        output: z.object({ id: z.string() }),
        execute: async ({ input, handle }) => {
          // Queued into the step's batch: not awaited, applied with the log's records.
          void handle.batch([
            handle.insert(orders).values({ id: input.id, amount: 7 }),
            handle.insert(orders).values({ id: `${input.id}-gift`, amount: 1 }),
          ]);
          return { id: input.id };
        },
        probe: async ({ input, handle }) =>
          (await handle.select().from(orders).where(eq(orders.id, input.id))).length > 0
            ? committed({ id: input.id })
            : notCommitted(),
      })
      .build();
  }

  it("explain and the run report the Drizzle step as batch_co_committed", async () => {
    const saga = orderSaga();
    const plan = explain(saga, { log });
    expect(plan.steps.map((s) => s.strategy)).toEqual(["saga", "batch_co_committed"]);
    expect(plan.steps[1]?.inDoubt).toBe("none");
    const report = (
      await createRunner({ log }).run(saga, { id: "o-7" }, { sagaId: "saga-7" })
    )._unsafeUnwrap();
    expect(report.status).toBe("completed");
    expect(report.steps.map((s) => s.strategy)).toEqual(["saga", "batch_co_committed"]);
    expect(await orderIds()).toEqual(["o-7", "o-7-gift"]);
    const entries = (await log.load("saga-7"))?.entries ?? [];
    expect(entries.find((e) => e.step === "place" && e.type === "committed")?.via).toBe(
      "co_commit",
    );
  });

  it("a step on a log elsewhere writes through a fenced Drizzle database and awaits its writes", async () => {
    const saga = defineSaga("d1-drizzle-alone", { input: z.object({ id: z.string() }) })
      .step("place", {
        store,
        kind: "pivot",
        output: z.object({ id: z.string() }),
        execute: async ({ input, handle }) => {
          const [row] = await handle
            .insert(orders)
            .values({ id: input.id, amount: 3 })
            .returning({ id: orders.id });
          return { id: row?.id ?? "missing" };
        },
        probe: async () => notCommitted(),
      })
      .build();
    const report = (await createRunner().run(saga, { id: "o-9" }))._unsafeUnwrap();
    expect(report.steps[0]?.strategy).toBe("saga");
    expect(report.outputs).toEqual({ place: { id: "o-9" } });
    expect(await orderIds()).toEqual(["o-9"]);
  });

  it("reads with two columns of one name come back apart through every handle", async () => {
    await opened.db.insert(kv).values([
      { key: "a", value: "b" },
      { key: "b", value: "c" },
    ]);
    const other = alias(kv, "other");
    const joined = (handle: Pick<typeof store.handle, "select">) =>
      handle
        .select({ key: kv.key, otherKey: other.key, otherValue: other.value })
        .from(kv)
        .innerJoin(other, eq(kv.value, other.key));
    const expected = [{ key: "a", otherKey: "b", otherValue: "c" }];
    expect(await joined(store.handle)).toEqual(expected);
    const call = { sagaId: "s", step: "x", key: "k", fencingToken: 1 };
    const fenced = store.handleFor?.(openScope().scope, call);
    if (fenced === undefined) throw new Error("The D1 store must bind its handle to a call.");
    expect(await joined(fenced)).toEqual(expected);
    await store.deferredBatch(async (batch) => {
      expect(await joined(batch)).toEqual(expected);
    }, openScope().scope);
    const [full] = await store.handle.select().from(kv).innerJoin(other, eq(kv.value, other.key));
    expect(full).toEqual({
      kv: { key: "a", value: "b", version: 1 },
      other: { key: "b", value: "c", version: 1 },
    });
  });

  it("runAtomic sends one batch; a guard that does not hold fails it as a conflict naming it", async () => {
    const done = await runAtomic(store, [
      { name: "a", build: () => (h) => h.insert(orders).values({ id: "a", amount: 1 }) },
      { name: "b", build: () => (h) => h.insert(orders).values({ id: "b", amount: 1 }) },
    ]);
    expect(done._unsafeUnwrap().strategy).toBe("batch");
    const lost = await runAtomic(store, [
      { name: "c", build: () => (h) => h.insert(orders).values({ id: "c", amount: 1 }) },
      {
        name: "raise",
        guarded: true,
        build: () => (h) =>
          guarded(h.update(orders).set({ amount: 2 }).where(eq(orders.id, "missing"))),
      },
    ]);
    const error = lost._unsafeUnwrapErr();
    expect([error.code, (error as { write?: string }).write]).toEqual(["conflict", "raise"]);
    expect(await orderIds(), "nothing of a conflicting batch applies").toEqual(["a", "b"]);
  });

  it("classifies a constraint violation wrapped by Drizzle by walking its cause: not_committed", async () => {
    await store.handle.insert(orders).values({ id: "dup", amount: 1 });
    const errors = [
      await rejectionOf(() => store.handle.insert(orders).values({ id: "dup", amount: 2 })),
      await rejectionOf(() => store.handle.select().from(orders).where(sql`no_such_column = 1`)),
    ];
    expect(errors.map((e) => (e as Error).constructor.name)).toEqual([
      "DrizzleQueryError",
      "DrizzleQueryError",
    ]);
    for (const error of errors) {
      expect(classifyError(error, store.classifyError)).toBe("not_committed");
    }
    const batch = await runAtomic(store, [
      { name: "fresh", build: () => (h) => h.insert(orders).values({ id: "fresh", amount: 1 }) },
      { name: "dup", build: () => (h) => h.insert(orders).values({ id: "dup", amount: 3 }) },
    ]);
    expect((batch._unsafeUnwrapErr() as { kind?: string }).kind).toBe("not_committed");
    expect(await orderIds()).toEqual(["dup"]);
  });
});
