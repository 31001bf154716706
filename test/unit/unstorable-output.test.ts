import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import { openSqlite, sqliteSagaLog, sqliteStore } from "../../src/adapters/sqlite/index.js";
import {
  AttentionReason,
  committed,
  createRecoverer,
  createRunner,
  defineSaga,
  diagnoseSaga,
  ErrorCode,
  MemorySagaLog,
  SagaStatus,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { closeLogs, LOGS, paySaga } from "../support/pay-saga.js";

const TTL = 1_000;

function circular(): unknown {
  const value: Record<string, unknown> = { amount: 10 };
  value.self = value;
  return value;
}

const CASES = [
  { name: "a BigInt", output: () => ({ amount: 10n }), path: "output.amount", what: "BigInt" },
  { name: "a circular value", output: circular, path: "output.self", what: "circular" },
  {
    name: "a function",
    output: () => ({ amount: () => 10 }),
    path: "output.amount",
    what: "function",
  },
  {
    name: "a Map",
    output: () => ({ amount: new Map([["eur", 10]]) }),
    path: "output.amount",
    what: "Map",
  },
  {
    name: "NaN in a list",
    output: () => ({ amount: [10, Number.NaN] }),
    path: "output.amount.1",
    what: "NaN",
  },
] as const;

afterEach(closeLogs);

for (const { name: logName, open } of LOGS) {
  describe(`an output the log cannot store, on ${logName}`, () => {
    for (const { name, output, path, what } of CASES) {
      for (const lost of [false, true]) {
        const via = lost ? "found by the probe" : "returned by execute";
        it(`${name} ${via} ends needs_attention naming the step and the path, and nothing is recorded as committed`, async () => {
          const clock = new VirtualClock();
          const log = open();
          const store = createMemoryStore({ id: "pay", tier: "plain" });
          const saga = paySaga(store, { output, lost });
          const runner = createRunner({ clock, log, leaseTtlMs: TTL, random: () => 0.5 });
          const result = await clock.run(runner.run(saga, { id: "p-1" }, { sagaId: "pay-1" }));
          const error = result._unsafeUnwrapErr();
          expect(error.code).toBe(ErrorCode.NeedsAttention);
          if (error.code !== ErrorCode.NeedsAttention) return;
          expect(error.step).toBe("capture");
          expect(error.reason).toBe(AttentionReason.InvalidOutput);
          expect(error.message).toContain(`\`${path}\``);
          expect(error.message).toContain(what);
          expect(error.report.attention?.step).toBe("capture");

          const snapshot = await log.load("pay-1");
          expect(snapshot?.record.status).toBe(SagaStatus.NeedsAttention);
          expect(snapshot?.record.attention?.reason).toBe(AttentionReason.InvalidOutput);
          expect(snapshot?.record.attention?.step).toBe("capture");
          expect(snapshot?.record.attention?.message).toContain(`\`${path}\``);
          expect(snapshot?.record.leaseOwner).toBeNull();
          expect(
            snapshot?.entries.filter((e) => e.step === "capture" && e.type === "committed"),
          ).toEqual([]);
          // As with an output that fails its schema: the write may be in place, nothing is undone.
          expect(store.snapshot()["capture:p-1"]).toBeDefined();
          expect(store.snapshot()["hold:p-1"]).toBeDefined();

          // Nothing is left for recovery to claim, pass after pass.
          clock.advance(TTL + 1);
          const recoverer = createRecoverer({
            runner: createRunner({ clock, log, leaseTtlMs: TTL }),
            sagas: [saga],
          });
          const pass = (await clock.run(recoverer.recover()))._unsafeUnwrap();
          expect(pass.claimed).toBe(0);
        });
      }
    }

    it("an output that JSON keeps is stored: an undefined field, a value with toJSON", async () => {
      const clock = new VirtualClock();
      const log = open();
      const store = createMemoryStore({ id: "pay", tier: "plain" });
      const saga = paySaga(store, {
        output: () => ({ amount: { at: new Date(0), note: undefined } }),
      });
      const runner = createRunner({ clock, log, leaseTtlMs: TTL });
      const report = (await clock.run(runner.run(saga, { id: "p-2" })))._unsafeUnwrap();
      expect(report.status).toBe(SagaStatus.Completed);
      const entries = (await log.load(report.sagaId))?.entries ?? [];
      const capture = entries.find((e) => e.step === "capture" && e.type === "committed");
      expect(capture?.output).toEqual({ amount: { at: "1970-01-01T00:00:00.000Z" } });
    });
  });
}

describe("an output the log cannot store, in a group co-committed with the log on SQLite", () => {
  it("rolls the group back and ends needs_attention naming the step and the path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lockstep-unstorable-"));
    const db = openSqlite(join(dir, "log.db"));
    onTestFinished(() => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const log = sqliteSagaLog(db);
    const ledger = sqliteStore(db);
    await ledger.handle.run("CREATE TABLE payments (id TEXT PRIMARY KEY)");
    const saga = defineSaga("pay-in-db", { input: z.object({ id: z.string() }) })
      .step("record", {
        store: ledger,
        kind: "pivot",
        output: z.object({ amount: z.bigint() }),
        execute: async ({ input, handle }) => {
          await handle.run("INSERT INTO payments (id) VALUES (?)", [input.id]);
          return { amount: 10n };
        },
        probe: async () => committed({ amount: 10n }),
      })
      .build();
    const clock = new VirtualClock();
    const runner = createRunner({ clock, log, leaseTtlMs: TTL });
    const result = await clock.run(runner.run(saga, { id: "p-1" }, { sagaId: "pay-db-1" }));
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.NeedsAttention);
    if (error.code !== ErrorCode.NeedsAttention) return;
    expect(error.step).toBe("record");
    expect(error.reason).toBe(AttentionReason.InvalidOutput);
    expect(error.message).toContain("`output.amount`: a BigInt cannot be stored as JSON");
    // One transaction: the step's own write was rolled back with its refused log record.
    expect(await ledger.handle.all("SELECT id FROM payments")).toEqual([]);
    const snapshot = await log.load("pay-db-1");
    expect(snapshot?.record.status).toBe(SagaStatus.NeedsAttention);
    expect(snapshot?.entries.filter((e) => e.type === "committed")).toEqual([]);
  });
});

describe("a diagnosis of a saga in doubt", () => {
  it("predicts what the runner will do with a probe output the log cannot store", async () => {
    const clock = new VirtualClock();
    const log = new MemorySagaLog();
    const store = createMemoryStore({ id: "pay", tier: "plain" });
    let probeUp = false;
    const output = () => {
      if (!probeUp) throw new Error("the payments service is unreachable");
      return { amount: 10n };
    };
    const saga = paySaga(store, { output, lost: true });
    const runner = createRunner({ clock, log, leaseTtlMs: TTL });
    const result = await clock.run(runner.run(saga, { id: "p-1" }, { sagaId: "pay-1" }));
    expect(result._unsafeUnwrapErr().code).toBe(ErrorCode.InDoubt);
    probeUp = true;
    const diagnosis = (await diagnoseSaga(log, "pay-1", { sagas: [saga], clock }))._unsafeUnwrap();
    expect(diagnosis.steps.find((s) => s.name === "capture")?.probe).toBe("invalid_output");
  });
});
