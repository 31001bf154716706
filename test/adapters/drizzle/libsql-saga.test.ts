import { createClient } from "@libsql/client";
import { and, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/libsql";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { drizzleSagaLog, drizzleStore, guarded } from "../../../src/adapters/drizzle/index.js";
import {
  classifyError,
  committed,
  createRunner,
  defineSaga,
  explain,
  notCommitted,
  runAtomic,
  StoreError,
} from "../../../src/index.js";
import { SagaLogError } from "../../../src/log/saga-log.js";
import { SagaStatus } from "../../../src/model/records.js";
import { sagaRecord, stepEntry } from "../../conformance/saga-log.js";
import { openScope, storeFailure } from "../../conformance/transaction.js";
import { drizzleLibsqlDatabase, kv } from "./drizzle-edge-test.js";
import { causeWhere, rejectionOf } from "./drizzle-test.js";

type Opened = Awaited<ReturnType<typeof drizzleLibsqlDatabase>>;
const NOW = 1_700_000_000_500;

describe("drizzleStore on libSQL: Drizzle transactions co-committed with the saga log", () => {
  let opened: Opened;
  let store: ReturnType<typeof drizzleStore<Opened["db"]>>;
  const keys = async () =>
    (await opened.db.select({ key: kv.key }).from(kv).orderBy(kv.key)).map((r) => r.key);

  beforeEach(async () => {
    opened = await drizzleLibsqlDatabase();
    store = drizzleStore(opened.db, { id: "kv-libsql" });
  });
  afterEach(() => opened.close());

  const saga = (failAt?: "second") =>
    defineSaga("drizzle-libsql", { input: z.object({ id: z.string() }) })
      .step("first", {
        store,
        kind: "compensatable",
        output: z.object({ key: z.string() }),
        execute: async ({ input, handle }) => {
          await handle.insert(kv).values({ key: `${input.id}-a`, value: "a" });
          return { key: `${input.id}-a` };
        },
        probe: async ({ input, handle }) =>
          (
            await handle
              .select()
              .from(kv)
              .where(eq(kv.key, `${input.id}-a`))
          ).length > 0
            ? committed({ key: `${input.id}-a` })
            : notCommitted(),
        compensate: async ({ output, handle }) => {
          await handle.delete(kv).where(eq(kv.key, output.key));
          return { status: "compensated" as const };
        },
      })
      .step("second", {
        store,
        kind: "pivot",
        output: z.object({ key: z.string() }),
        execute: async ({ input, handle }) => {
          await handle.insert(kv).values({ key: `${input.id}-b`, value: "b" });
          if (failAt === "second") throw new StoreError("not_committed", "a rule failed");
          return { key: `${input.id}-b` };
        },
        probe: async ({ input, handle }) =>
          (
            await handle
              .select()
              .from(kv)
              .where(eq(kv.key, `${input.id}-b`))
          ).length > 0
            ? committed({ key: `${input.id}-b` })
            : notCommitted(),
        retry: { attempts: 1 },
      })
      .build();

  it("explain and the run report the steps as co_committed; writes and records commit together", async () => {
    const log = drizzleSagaLog(opened.db, { store });
    expect(explain(saga(), { log }).steps.map((s) => s.strategy)).toEqual([
      "co_committed",
      "co_committed",
    ]);
    const report = (await createRunner({ log }).run(saga(), { id: "o1" }))._unsafeUnwrap();
    expect(report.status).toBe("completed");
    expect(report.steps.map((s) => s.strategy)).toEqual(["co_committed", "co_committed"]);
    expect(await keys()).toEqual(["o1-a", "o1-b"]);
    const entries = (await log.load(report.sagaId))?.entries ?? [];
    expect(entries.filter((e) => e.type === "committed").map((e) => e.via)).toEqual([
      "co_commit",
      "co_commit",
    ]);
  });

  it("a failing step rolls back every Drizzle write of the transaction and its log records", async () => {
    const log = drizzleSagaLog(opened.db, { store });
    const result = await createRunner({ log }).run(saga("second"), { id: "o2" });
    expect(result.isErr()).toBe(true);
    expect(await keys(), "the first step shared the rolled-back transaction").toEqual([]);
    const sagaId = (result._unsafeUnwrapErr() as { sagaId?: string }).sagaId as string;
    const entries = (await log.load(sagaId))?.entries ?? [];
    expect(entries.filter((e) => e.type === "committed")).toEqual([]);
  });

  it("a stale fencing token makes the whole transaction apply nothing", async () => {
    const log = drizzleSagaLog(opened.db, { store });
    await log.create(sagaRecord("saga-1", { leaseExpiresAt: NOW }));
    // A recoverer takes the saga over: the runner holding token 1 is now a zombie.
    expect(await log.acquireLease("saga-1", "recoverer", 1_000, NOW + 1)).toBe(2);
    const error = await storeFailure(
      store.transaction(async (tx) => {
        await tx.insert(kv).values({ key: "zombie", value: "z" });
        // The step's handle, as the runner hands it to the log.
        await log.coCommit.write(tx as never, "saga-1", 1, {
          entries: [stepEntry("reserve", "committed")],
          status: SagaStatus.Completed,
          now: NOW + 2,
        });
      }, openScope().scope),
    );
    expect(
      causeWhere(error, (e) => SagaLogError.is(e) && e.reason === "stale_token"),
    ).toBeDefined();
    expect(await keys(), "a zombie's business write must not land").toEqual([]);
    const snapshot = await log.load("saga-1");
    expect(snapshot?.entries).toEqual([]);
    expect(snapshot?.record.status).toBe(SagaStatus.Running);
  });

  it("classifies a constraint violation wrapped by Drizzle by walking its cause: not_committed", async () => {
    await store.handle.insert(kv).values({ key: "dup", value: "1" });
    const caught = await rejectionOf(() =>
      store.handle.insert(kv).values({ key: "dup", value: "2" }),
    );
    expect((caught as Error).constructor.name).toBe("DrizzleQueryError");
    expect(classifyError(caught, store.classifyError)).toBe("not_committed");
    const failure = await storeFailure(
      store.transaction(async (tx) => {
        await tx.insert(kv).values({ key: "fresh", value: "1" });
        await tx.insert(kv).values({ key: "dup", value: "3" });
      }, openScope().scope),
    );
    expect(failure.kind).toBe("not_committed");
    const driverError = causeWhere(failure, (e) =>
      String((e as { code?: unknown }).code).startsWith("SQLITE_CONSTRAINT"),
    );
    expect(driverError, "libSQL's constraint error must be in the cause chain").toBeDefined();
    expect(await keys()).toEqual(["dup"]);
  });

  it("refuses transaction control, nested transactions and a transaction on a step handle", async () => {
    const control = await storeFailure(
      store.transaction(async (tx) => {
        await tx.insert(kv).values({ key: "inside", value: "1" });
        await tx.run(sql`COMMIT`);
      }, openScope().scope),
    );
    expect(control.message).toMatch(/Transaction control statements cannot run/);
    const nested = await storeFailure(
      store.transaction(async (tx) => {
        await tx.transaction(async (inner) => {
          await inner.insert(kv).values({ key: "nested", value: "1" });
        });
      }, openScope().scope),
    );
    expect(nested.message).toMatch(/Transaction control statements cannot run/);
    const root = store.handle as unknown as { transaction(work: () => unknown): Promise<unknown> };
    await expect(root.transaction(async () => {})).rejects.toThrow(/cannot be opened through/);
    const rolledBack = await storeFailure(
      store.transaction(async (tx) => {
        await tx.insert(kv).values({ key: "inside", value: "1" });
        tx.rollback();
      }, openScope().scope),
    );
    expect(rolledBack.kind).toBe("not_committed");
    expect(await keys()).toEqual([]);
  });

  it("runAtomic runs in a transaction; a guard that does not hold applies nothing", async () => {
    await store.handle.insert(kv).values({ key: "a", value: "1", version: 1 });
    const bump = (version: number) => (tx: typeof store.handle) =>
      tx
        .update(kv)
        .set({ value: "2", version: 2 })
        .where(and(eq(kv.key, "a"), eq(kv.version, version)));
    const done = await runAtomic(store, [
      { name: "new", build: () => (tx) => tx.insert(kv).values({ key: "b", value: "1" }) },
      { name: "bump", guarded: true, build: () => bump(1) },
    ]);
    expect(done._unsafeUnwrap().strategy).toBe("transaction");
    const lost = await runAtomic(store, [
      { name: "new", build: () => (tx) => tx.insert(kv).values({ key: "c", value: "1" }) },
      { name: "bump", guarded: true, build: () => bump(1) },
    ]);
    expect(lost._unsafeUnwrapErr().code).toBe("conflict");
    expect(await keys()).toEqual(["a", "b"]);
  });

  it("store.batch sends Drizzle queries in one batch, and refuses a write that is no query, naming it", async () => {
    const results = await store.batch(
      [
        (h) => h.insert(kv).values({ key: "x", value: "1" }).returning({ key: kv.key }),
        (h) => guarded(h.update(kv).set({ value: "2" }).where(eq(kv.key, "x"))),
      ],
      openScope().scope,
    );
    expect(results.map((r) => store.affected(r))).toEqual([1, 1]);
    const conflict = await storeFailure(
      store.batch(
        [
          (h) => h.insert(kv).values({ key: "y", value: "1" }),
          (h) => guarded(h.update(kv).set({ value: "3" }).where(eq(kv.key, "missing"))),
        ],
        openScope().scope,
      ),
    );
    expect([conflict.kind, conflict.index]).toEqual(["conflict", 1]);
    const bad = await storeFailure(
      store.batch(
        [(h) => h.insert(kv).values({ key: "z", value: "1" }), 7 as never],
        openScope().scope,
      ),
    );
    expect(bad.message).toMatch(/write 1 of the batch.*`7` \(number\)/);
    const notQuery = await storeFailure(store.batch([() => Promise.resolve(1)], openScope().scope));
    expect(notQuery.message).toMatch(/write 0 of the batch to be a Drizzle query/);
    expect(await keys()).toEqual(["x"]);
  });
});

describe("drizzleStore on libSQL: the attempt fence follows where the database is", () => {
  it("a local file is fenced in process; a remote database is not fenced", async () => {
    const opened = await drizzleLibsqlDatabase();
    const remote = createClient({ url: "http://127.0.0.1:9" });
    try {
      expect(drizzleStore(opened.db, { id: "local" }).fence?.mode).toBe("in_process");
      expect(drizzleStore(drizzle(remote), { id: "remote" }).fence?.mode).toBe("none");
    } finally {
      remote.close();
      await opened.close();
    }
  });
});
