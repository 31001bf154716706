import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import { openSqlite, sqliteSagaLog, sqliteStore } from "../../src/adapters/sqlite/index.js";
import {
  committed,
  compensated,
  createRunner,
  defineSaga,
  ErrorCode,
  escalate,
  notCommitted,
  type SagaEvent,
  StoreError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

/**
 * What a step's code sees of the steps before it (inside a co-committed group too, and when it is
 * compensated), and what a report and the listener say about a step that failed and then
 * committed, a group that rolled back, and a saga that stops for a person.
 */

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function sqliteFile() {
  const dir = mkdtempSync(join(tmpdir(), "lockstep-context-"));
  dirs.push(dir);
  return openSqlite(join(dir, "app.db"));
}

/** pick and pack co-commit with the SQLite log; ship (the pivot) is on a memory store. */
function warehouse(
  db: ReturnType<typeof openSqlite>,
  options: { packFails?: boolean; shipFails?: boolean },
) {
  const shared = sqliteStore(db);
  const carrier = createMemoryStore({ id: "carrier", tier: "plain" });
  const seen: Record<string, unknown> = {};
  const saga = defineSaga("warehouse", { input: z.object({}) })
    .step("pick", {
      store: shared,
      kind: "compensatable",
      output: z.object({ bin: z.string() }),
      execute: async () => ({ bin: "B-7" }),
      probe: async () => notCommitted(),
      compensate: async ({ outputs }) => {
        seen.pickCompensation = Object.keys(outputs);
        return compensated();
      },
    })
    .step("pack", {
      store: shared,
      kind: "compensatable",
      output: z.object({ box: z.string() }),
      execute: async ({ outputs }) => {
        seen.pack = { ...outputs };
        if (options.packFails) throw new StoreError("not_committed", "no boxes left");
        return { box: `box-for-${outputs.pick.bin}` };
      },
      probe: async () => notCommitted(),
      compensate: async ({ outputs, output }) => {
        seen.packCompensation = { outputs: { ...outputs }, output };
        return compensated();
      },
    })
    .step("ship", {
      store: carrier,
      kind: "pivot",
      output: z.object({ label: z.string() }),
      execute: async ({ outputs }) => {
        seen.ship = { ...outputs };
        if (options.shipFails) throw new StoreError("not_committed", "carrier refused");
        return { label: `${outputs.pick.bin}/${outputs.pack.box}` };
      },
      probe: async () => notCommitted(),
    })
    .build();
  return { saga, seen, log: sqliteSagaLog(db) };
}

describe("a step's outputs", () => {
  it("inside a co-committed group include the earlier steps of the group, before they commit", async () => {
    const db = sqliteFile();
    try {
      const { saga, seen, log } = warehouse(db, {});
      const report = (await createRunner({ log }).run(saga, {}))._unsafeUnwrap();
      expect(report.steps.map((s) => s.strategy)).toEqual(["co_committed", "co_committed", "saga"]);
      expect(seen.pack).toEqual({ pick: { bin: "B-7" } });
      expect(seen.ship).toEqual({ pick: { bin: "B-7" }, pack: { box: "box-for-B-7" } });
      expect(report.outputs).toEqual({
        pick: { bin: "B-7" },
        pack: { box: "box-for-B-7" },
        ship: { label: "B-7/box-for-B-7" },
      });
    } finally {
      db.close();
    }
  });

  it("seen by a compensation are those of the steps before it; its own comes as `output`", async () => {
    const db = sqliteFile();
    try {
      const { saga, seen, log } = warehouse(db, { shipFails: true });
      const error = (await createRunner({ log }).run(saga, {}))._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.StepFailed);
      expect(seen.packCompensation).toEqual({
        outputs: { pick: { bin: "B-7" } },
        output: { box: "box-for-B-7" },
      });
      expect(seen.pickCompensation).toEqual([]);
    } finally {
      db.close();
    }
  });
});

describe("a co-committed group that rolls back", () => {
  it("reports each of its steps not committed, with the error only on the step that failed", async () => {
    const db = sqliteFile();
    try {
      const { saga, log } = warehouse(db, { packFails: true });
      const error = (await createRunner({ log }).run(saga, {}))._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.StepFailed);
      if (error.code !== ErrorCode.StepFailed) return;
      expect(error.step).toBe("pack");
      const [pick, pack, ship] = error.report.steps;
      expect(pick?.status).toBe("not_committed");
      expect(pick).not.toHaveProperty("error");
      expect(pack).toMatchObject({
        status: "not_committed",
        error: { kind: "not_committed", message: expect.stringContaining("no boxes left") },
      });
      expect(ship?.status).toBe("skipped");
    } finally {
      db.close();
    }
  });
});

describe("a step that fails and then commits", () => {
  it("reports no error once an attempt commits", async () => {
    const clock = new VirtualClock();
    const store = createMemoryStore({ id: "flaky", tier: "plain" });
    let attempts = 0;
    const saga = defineSaga("flaky", { input: z.object({}) })
      .step("send", {
        store,
        kind: "retriable",
        idempotent: true,
        output: z.object({ sent: z.boolean() }),
        execute: async () => {
          attempts++;
          if (attempts === 1) throw new StoreError("transient", "mail server busy");
          return { sent: true };
        },
      })
      .build();
    const report = (await clock.run(createRunner({ clock }).run(saga, {})))._unsafeUnwrap();
    expect(report.steps[0]).toMatchObject({ status: "committed", attempts: 2 });
    expect(report.steps[0]).not.toHaveProperty("error");
    expect(report.steps[0]?.committedVia).toBe("execute");
  });

  it("found committed by its probe keeps the error that made the probe necessary", async () => {
    const clock = new VirtualClock();
    const store = createMemoryStore({ id: "ledger", tier: "plain" });
    // The ledger is another service: the post lands there, and the reply is lost.
    let posted = false;
    const saga = defineSaga("ledger", { input: z.object({}) })
      .step("post", {
        store,
        kind: "pivot",
        output: z.object({ posted: z.boolean() }),
        execute: async () => {
          posted = true;
          throw new StoreError("unknown", "connection reset after the write");
        },
        probe: async () => (posted ? committed({ posted: true }) : notCommitted()),
      })
      .build();
    const result = await clock.run(createRunner({ clock }).run(saga, {}));
    if (result.isErr()) throw new Error(result.error.message);
    const report = result.value;
    expect(report.steps[0]).toMatchObject({
      status: "committed",
      committedVia: "probe",
      error: { kind: "unknown", message: "connection reset after the write" },
    });
  });
});

describe("the listener's saga.status events", () => {
  it("carry the reason a saga needs attention, and each status change is told once", async () => {
    const clock = new VirtualClock();
    const store = createMemoryStore({ id: "desk", tier: "plain" });
    const events: SagaEvent[] = [];
    const saga = defineSaga("desk", { input: z.object({}) })
      .step("review", {
        store,
        kind: "pivot",
        output: z.object({}),
        execute: async () => escalate("the contract needs a lawyer"),
        probe: async () => notCommitted(),
      })
      .build();
    const error = (
      await clock.run(createRunner({ clock, onEvent: (e) => events.push(e) }).run(saga, {}))
    )._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.NeedsAttention);
    const statuses = events.filter((e) => e.type === "saga.status");
    expect(statuses).toEqual([
      expect.objectContaining({
        type: "saga.status",
        status: "needs_attention",
        reason: "escalated",
      }),
    ]);
  });

  it("are told once per change on a saga that is compensated", async () => {
    const db = sqliteFile();
    try {
      const { saga, log } = warehouse(db, { shipFails: true });
      const events: SagaEvent[] = [];
      await createRunner({ log, onEvent: (e) => events.push(e) }).run(saga, {});
      const statuses = events.flatMap((e) => (e.type === "saga.status" ? [e] : []));
      expect(statuses.map((e) => e.status)).toEqual(["compensating", "compensated"]);
      for (const e of statuses) expect(e).not.toHaveProperty("reason");
    } finally {
      db.close();
    }
  });

  it("are not told for a saga parked as it was, still running", async () => {
    const clock = new VirtualClock();
    const store = createMemoryStore({ id: "post", tier: "plain" });
    const events: SagaEvent[] = [];
    const saga = defineSaga("post", { input: z.object({}) })
      .step("charge", {
        store,
        kind: "pivot",
        output: z.object({}),
        execute: async () => ({}),
        probe: async () => notCommitted(),
      })
      .step("notify", {
        store,
        kind: "retriable",
        idempotent: true,
        retry: { attempts: 2 },
        output: z.object({}),
        execute: async () => {
          throw new StoreError("transient", "mail server down");
        },
      })
      .build();
    const runner = createRunner({ clock, onEvent: (e) => events.push(e) });
    const error = (await clock.run(runner.run(saga, {})))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.Incomplete);
    expect((await runner.log.list())[0]?.status).toBe("running");
    expect(events.filter((e) => e.type === "saga.status")).toEqual([]);
  });
});
