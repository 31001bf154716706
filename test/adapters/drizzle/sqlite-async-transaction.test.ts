import Database from "better-sqlite3";
import { eq } from "drizzle-orm";
import type { Result } from "neverthrow";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { drizzleSagaLog, drizzleStore } from "../../../src/adapters/drizzle/index.js";
import { StoreError } from "../../../src/core/error-kinds.js";
import type { SagaReport } from "../../../src/core/report.js";
import { createRunner } from "../../../src/core/runner.js";
import { defineSaga } from "../../../src/core/saga.js";
import { notCommitted } from "../../../src/core/step.js";
import { deferred, openScope, settle, storeFailure } from "../../conformance/transaction.js";
import { drizzleSqliteDatabase, sqliteKv } from "./drizzle-test.js";

type Opened = ReturnType<typeof drizzleSqliteDatabase>;

/** The report of a run, whether it completed (`ok`) or failed with one (`err`). */
function reportOf(result: Result<SagaReport, unknown>): SagaReport {
  if (result.isOk()) return result.value;
  const report = (result.error as { report?: SagaReport }).report;
  if (report === undefined)
    throw new Error(`The run failed without a report: ${String(result.error)}`);
  return report;
}

describe("drizzleStore on better-sqlite3: async transactions lockstep serialises", () => {
  let opened: Opened;
  let store: ReturnType<typeof drizzleStore<Opened["db"]>>;

  beforeEach(() => {
    opened = drizzleSqliteDatabase();
    store = drizzleStore(opened.db, { id: "kv-db" });
  });
  afterEach(() => {
    store.close();
    opened.close();
  });

  /** The committed keys, read on a connection of the test's own, outside lockstep and Drizzle. */
  const committedKeys = () => {
    const reader = new Database(opened.temp.file, { readonly: true });
    try {
      return (reader.prepare("SELECT key FROM kv ORDER BY key").all() as { key: string }[]).map(
        (row) => row.key,
      );
    } finally {
      reader.close();
    }
  };

  /** A one-step saga whose step writes, awaits `pause`, then writes again (and maybe fails). */
  const sagaWith = (pause: () => Promise<void>, fail: () => boolean) =>
    defineSaga("async-step", { input: z.object({ id: z.string() }) })
      .step("write-twice", {
        store,
        kind: "pivot",
        output: z.object({ id: z.string() }),
        execute: async ({ input, handle }) => {
          await handle.insert(sqliteKv).values({ key: `${input.id}-a`, value: "1" });
          await pause();
          await handle.insert(sqliteKv).values({ key: `${input.id}-b`, value: "2" });
          if (fail()) throw new StoreError("not_committed", "a rule failed after both writes");
          return { id: input.id };
        },
        probe: async () => notCommitted(),
        retry: { attempts: 1 },
      })
      .build();

  for (const outcome of ["commits", "rolls back"] as const) {
    it(`a step that awaits inside its transaction ${outcome} atomically with its log record`, async () => {
      const log = drizzleSagaLog(opened.db, { store });
      expect(log.coCommit.storeId, "the log must co-commit with the Drizzle store").toBe("kv-db");
      const saga = sagaWith(
        () => new Promise((resolve) => setTimeout(resolve, 5)),
        () => outcome === "rolls back",
      );
      const report = reportOf(await createRunner({ log }).run(saga, { id: "o1" }));
      expect(report.steps[0]?.strategy).toBe("co_committed");
      const snapshot = await log.load(report.sagaId);
      const committedEntries = snapshot?.entries.filter((e) => e.type === "committed") ?? [];
      if (outcome === "commits") {
        expect(report.status).toBe("completed");
        expect(committedKeys()).toEqual(["o1-a", "o1-b"]);
        expect(committedEntries.map((e) => e.via)).toEqual(["co_commit"]);
      } else {
        expect(report.status).not.toBe("completed");
        expect(committedKeys(), "both writes must roll back with the step").toEqual([]);
        expect(committedEntries, "no committed record may survive the rollback").toEqual([]);
      }
    });

    it(`a write through the same db while the step's transaction is open waits for it and is never joined to it (step ${outcome})`, async () => {
      const log = drizzleSagaLog(opened.db, { store });
      const written = deferred();
      const proceed = deferred();
      const saga = sagaWith(
        async () => {
          written.resolve();
          await proceed.promise;
        },
        () => outcome === "rolls back",
      );
      const running = createRunner({ log }).run(saga, { id: "o1" });
      await written.promise;
      let landed = false;
      const outside = Promise.resolve(
        opened.db.insert(sqliteKv).values({ key: "outside", value: "x" }),
      ).then(() => {
        landed = true;
      });
      await settle();
      expect(landed, "the write through db must wait for the open transaction").toBe(false);
      expect(committedKeys(), "nothing is committed while the transaction is open").toEqual([]);
      proceed.resolve();
      const report = reportOf(await running);
      await outside;
      expect(landed).toBe(true);
      expect(report.status === "completed").toBe(outcome === "commits");
      expect(committedKeys(), "the outside write must survive whatever the step did").toEqual(
        outcome === "commits" ? ["o1-a", "o1-b", "outside"] : ["outside"],
      );
    });
  }

  it("a write through db inside the transaction's own work is refused, not left waiting for itself", async () => {
    const error = await storeFailure(
      store.transaction(async (tx) => {
        await tx.insert(sqliteKv).values({ key: "inside", value: "1" });
        await opened.db.insert(sqliteKv).values({ key: "root", value: "2" });
      }, openScope().scope),
    );
    expect(error.message).toMatch(/would wait for that transaction forever/);
    expect(committedKeys()).toEqual([]);
  });

  it("synchronous writes through db run at once while no transaction is open", () => {
    const result = opened.db.insert(sqliteKv).values({ key: "sync", value: "1" }).run();
    expect(result.changes).toBe(1);
    opened.db.transaction((tx) => {
      tx.insert(sqliteKv).values({ key: "sync-tx", value: "2" }).run();
    });
    expect(committedKeys()).toEqual(["sync", "sync-tx"]);
  });

  it("while a transaction is open, a synchronous write's result cannot be read and db.transaction is refused", async () => {
    const written = deferred();
    const proceed = deferred();
    const running = store.transaction(async (tx) => {
      await tx.insert(sqliteKv).values({ key: "inside", value: "1" });
      written.resolve();
      await proceed.promise;
    }, openScope().scope);
    await written.promise;
    const queued = opened.db.insert(sqliteKv).values({ key: "queued", value: "2" }).run();
    expect(() => queued.changes).toThrow(/queued behind a lockstep transaction/);
    expect(() =>
      opened.db.transaction((tx) => {
        tx.insert(sqliteKv).values({ key: "never", value: "3" }).run();
      }),
    ).toThrow(/needs the write lock/);
    proceed.resolve();
    await running;
    await queued;
    expect(committedKeys()).toEqual(["inside", "queued"]);
    // Reads never wait: they see committed data only.
    const rows = await opened.db.select().from(sqliteKv).where(eq(sqliteKv.key, "queued"));
    expect(rows.map((r) => r.value)).toEqual(["2"]);
  });
});
