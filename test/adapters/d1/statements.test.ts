import { describe, expect, it } from "vitest";
import { z } from "zod";
import { d1Driver, REUSED_STATEMENTS } from "../../../src/adapters/d1/d1-binding.js";
import {
  type D1DatabaseLike,
  type D1StatementLike,
  d1SagaLog,
  d1Store,
} from "../../../src/adapters/d1/index.js";
import { createRunner, defineSaga, notCommitted } from "../../../src/index.js";
import { testD1 } from "./d1-test.js";

/** A fake binding that records what it prepares and echoes each statement's SQL and parameters. */
function echoBinding() {
  const prepared: string[] = [];
  const statement = (sql: string, params: unknown[]): D1StatementLike => ({
    bind: (...values: unknown[]) => statement(sql, values),
    all: async () => ({ results: [{ sql, params }] }) as never,
    run: async () => ({ results: [{ sql, params }] }) as never,
  });
  const binding: D1DatabaseLike = {
    prepare: (sql) => {
      prepared.push(sql);
      return statement(sql, []);
    },
    batch: async (statements) => Promise.all(statements.map((s) => s.all())) as Promise<never[]>,
  };
  return { binding, prepared };
}

describe("the D1 driver's prepared statements", () => {
  it("prepares a SQL text once and binds each call's own parameters to it", async () => {
    const { binding, prepared } = echoBinding();
    const driver = d1Driver(binding);
    const results = await driver.send([
      { sql: "INSERT INTO t VALUES (?)", params: [1] },
      { sql: "INSERT INTO t VALUES (?)", params: [2] },
      { sql: "SELECT 1" },
    ]);
    expect(results.map((r) => r.rows[0])).toEqual([
      { sql: "INSERT INTO t VALUES (?)", params: [1] },
      { sql: "INSERT INTO t VALUES (?)", params: [2] },
      { sql: "SELECT 1", params: [] },
    ]);
    expect(await driver.all("INSERT INTO t VALUES (?)", [3])).toEqual([
      { sql: "INSERT INTO t VALUES (?)", params: [3] },
    ]);
    expect(prepared).toEqual(["INSERT INTO t VALUES (?)", "SELECT 1"]);
  });

  it(`keeps the ${REUSED_STATEMENTS} most recently used, preparing an evicted text again`, async () => {
    const { binding, prepared } = echoBinding();
    const driver = d1Driver(binding);
    await driver.run("SELECT 0", []);
    for (let i = 1; i < REUSED_STATEMENTS; i++) await driver.run(`SELECT ${i}`, []);
    // Used again, "SELECT 0" is now the most recent; the next new text evicts "SELECT 1".
    await driver.run("SELECT 0", []);
    await driver.run(`SELECT ${REUSED_STATEMENTS}`, []);
    await driver.run("SELECT 0", []);
    expect(prepared).toHaveLength(REUSED_STATEMENTS + 1);
    await driver.run("SELECT 1", []);
    expect(prepared).toHaveLength(REUSED_STATEMENTS + 2);
    expect(prepared.at(-1)).toBe("SELECT 1");
  });
});

describe("a saga fully co-committed in D1 batches", () => {
  it("is one batch of its writes and two log statements, and prepares no statement again", async () => {
    const real = await testD1();
    const calls = { prepare: 0, batches: [] as number[] };
    const binding: D1DatabaseLike = {
      prepare: (sql) => {
        calls.prepare++;
        return real.prepare(sql);
      },
      batch: (statements) => {
        calls.batches.push(statements.length);
        return real.batch(statements);
      },
    };
    const store = d1Store(binding, { id: "count-d1", tablePrefix: "count_" });
    const log = d1SagaLog(binding, { store, tablePrefix: "count_" });
    await store.handle.run("CREATE TABLE count_orders (id TEXT PRIMARY KEY)");
    const write = (suffix: string) => ({
      store,
      kind: "retriable" as const,
      output: z.object({ ok: z.boolean() }),
      execute: async ({
        input,
        handle,
      }: {
        input: { id: string };
        handle: typeof store.handle;
      }) => {
        void handle.run("INSERT INTO count_orders (id) VALUES (?)", [`${input.id}-${suffix}`]);
        return { ok: true };
      },
      probe: async () => notCommitted(),
    });
    const saga = defineSaga("count", { input: z.object({ id: z.string() }) })
      .step("a", write("a"))
      .step("b", write("b"))
      .step("c", write("c"))
      .build();
    const runner = createRunner({ log });
    // The first saga also creates the tables and prepares every statement.
    (await runner.run(saga, { id: "s-0" }, { sagaId: "s-0" }))._unsafeUnwrap();
    for (const id of ["s-1", "s-2"]) {
      calls.prepare = 0;
      calls.batches = [];
      const report = (await runner.run(saga, { id }, { sagaId: id }))._unsafeUnwrap();
      expect(report.steps.map((s) => s.strategy)).toEqual([
        "batch_co_committed",
        "batch_co_committed",
        "batch_co_committed",
      ]);
      // The three writes, the saga's header (its own check that the id was free), its entries.
      expect(calls.batches, id).toEqual([5]);
      expect(calls.prepare, "every statement is reused").toBe(0);
    }
    const entries = (await log.load("s-2"))?.entries ?? [];
    expect(entries.map((e) => [e.step, e.type, e.via])).toEqual([
      ["a", "committed", "co_commit"],
      ["b", "committed", "co_commit"],
      ["c", "committed", "co_commit"],
    ]);
  });
});
