import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type SqliteStore,
  type SqliteWrite,
  sqliteSagaLog,
  sqliteStore,
} from "../../../src/adapters/sqlite/index.js";
import { runAtomic } from "../../../src/core/run-atomic.js";
import { createRunner, defineSaga } from "../../../src/index.js";
import { type TempDatabase, tempDatabase } from "./temp-database.js";

/** At least this long of bursts, so that the count of ticks says something on a fast disk too. */
const MIN_MS = 300;

/**
 * Runs `burst` (again, until it has run for {@link MIN_MS}) while a 10 ms interval counts its ticks,
 * and returns how long it ran, the ticks, and how many bursts ran. A loop that never yields to the
 * event loop lets no tick through at all.
 */
async function ticksDuring(
  burst: () => Promise<unknown>,
): Promise<{ ms: number; ticks: number; rounds: number }> {
  let ticks = 0;
  const interval = setInterval(() => {
    ticks++;
  }, 10);
  const started = performance.now();
  let rounds = 0;
  try {
    do {
      await burst();
      rounds++;
    } while (performance.now() - started < MIN_MS);
  } finally {
    clearInterval(interval);
  }
  return { ms: performance.now() - started, ticks, rounds };
}

/**
 * Progress, not speed: timers fire during the burst, at least once per 50 ms of it (lockstep yields
 * every few milliseconds of synchronous work; 50 ms leaves room for a loaded machine).
 */
function expectTimersServed({ ms, ticks }: { ms: number; ticks: number }, what: string): void {
  console.log(`[sqlite] ${what}: ${ms.toFixed(0)} ms, ${ticks} ticks of a 10 ms interval`);
  expect(ticks, `a 10 ms interval during ${ms.toFixed(0)} ms of ${what}`).toBeGreaterThanOrEqual(
    Math.floor(ms / 50),
  );
}

describe("a burst on SQLite leaves the event loop running", () => {
  let temp: TempDatabase;
  let store: SqliteStore;

  beforeEach(async () => {
    temp = tempDatabase();
    store = sqliteStore(temp.db);
    await store.handle.run("CREATE TABLE counters (id TEXT PRIMARY KEY, n INTEGER NOT NULL)");
    await store.handle.run("INSERT INTO counters VALUES ('c', 0)");
  });

  afterEach(() => temp.remove());

  const bump = [
    {
      name: "bump",
      build: (): SqliteWrite => ({ sql: "UPDATE counters SET n = n + 1 WHERE id = 'c'" }),
    },
  ];

  it("serves timers during a thousand concurrent runAtomic calls", async () => {
    const calls = 1000;
    const served = await ticksDuring(() =>
      Promise.all(Array.from({ length: calls }, () => runAtomic(store, bump))),
    );
    expect(await store.handle.get("SELECT n FROM counters")).toEqual({ n: calls * served.rounds });
    expectTimersServed(served, `${calls * served.rounds} concurrent runAtomic calls`);
  });

  it("serves timers during a thousand runAtomic calls one after another", async () => {
    const calls = 1000;
    const served = await ticksDuring(async () => {
      for (let i = 0; i < calls; i++) (await runAtomic(store, bump))._unsafeUnwrap();
    });
    expect(await store.handle.get("SELECT n FROM counters")).toEqual({ n: calls * served.rounds });
    expectTimersServed(served, `${calls * served.rounds} sequential runAtomic calls`);
  });

  it("serves timers during a burst of co-committed sagas", async () => {
    const log = sqliteSagaLog(temp.db, { store });
    const runner = createRunner({ log });
    const saga = defineSaga("bump", { input: z.object({ i: z.number() }) })
      .step("bump", {
        store,
        kind: "retriable",
        output: z.object({ ok: z.boolean() }),
        execute: async ({ handle }) => {
          await handle.run("UPDATE counters SET n = n + 1 WHERE id = 'c'");
          return { ok: true };
        },
      })
      .build();
    const sagas = 500;
    const served = await ticksDuring(async () => {
      const results = await Promise.all(
        Array.from({ length: sagas }, (_, i) => runner.run(saga, { i })),
      );
      for (const result of results) expect(result._unsafeUnwrap().status).toBe("completed");
    });
    expect(await store.handle.get("SELECT n FROM counters")).toEqual({ n: sagas * served.rounds });
    expectTimersServed(served, `${sagas * served.rounds} concurrent sagas`);
  });
});
