import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createRecoverer,
  createRunner,
  EntryType,
  ErrorCode,
  systemClock,
} from "../../src/index.js";
import {
  hookStore,
  judge,
  openWorld,
  seedWorld,
  type TransferWorld,
  transferSaga,
} from "../crash/transfer-world.js";

const ahead = (ms: number) => ({ now: () => Date.now() + ms, setTimer: systemClock.setTimer });
const input = (orderId: string) => ({ orderId, account: "alice", amount: 10 });

let dir: string;
let world: TransferWorld;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "lockstep-recovery-"));
  world = openWorld(dir);
  await seedWorld(world, "happy");
});

afterEach(async () => {
  await world.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs a saga whose pivot fails, so it ends compensated; tests then rewrite its record on disk. */
async function compensatedRun(orderId: string): Promise<string> {
  const sagaId = `saga-${orderId}`;
  const failing = hookStore(
    world.orders,
    (name) => {
      if (name === "orders before insert") throw new Error("orders is down");
    },
    "orders",
  );
  const runner = createRunner({ log: world.log, retry: { attempts: 1 } });
  const result = await runner.run(transferSaga({ ...world, orders: failing }), input(orderId), {
    sagaId,
  });
  expect(result._unsafeUnwrapErr().code).toBe(ErrorCode.StepFailed);
  return sagaId;
}

describe("recovery on SQLite", () => {
  it("reports which steps were co-committed with their log records", async () => {
    const runner = createRunner({ log: world.log });
    const report = (
      await runner.run(transferSaga(world), { ...input("o-1"), amount: 30 })
    )._unsafeUnwrap();
    expect(report.steps.map((s) => [s.name, s.strategy])).toEqual([
      ["reserve", "co_committed"],
      ["confirm", "saga"],
      ["capture", "co_committed"],
      ["notify", "saga"],
    ]);
    expect((await judge(world)).state).toBe("all");
    // Co-committed steps leave intent and outcome in the log, written in the step's transaction.
    const entries = (await world.log.load(report.sagaId))?.entries ?? [];
    expect(entries.filter((e) => e.via === "co_commit").map((e) => e.step)).toEqual([
      "reserve",
      "capture",
    ]);
  });

  it("quarantines a saga whose on-disk record was edited to be invalid, and still recovers the others", async () => {
    const a = await compensatedRun("o-a");
    const b = await compensatedRun("o-b");
    // Make both look interrupted (running, lease lapsed), then corrupt one record's body on disk.
    const raw = new Database(join(dir, "main.db"));
    raw
      .prepare(
        "UPDATE lockstep_sagas SET status = 'running', lease_owner = 'dead', lease_expires_at = 1",
      )
      .run();
    const record = JSON.parse(
      (
        raw.prepare("SELECT record FROM lockstep_sagas WHERE saga_id = ?").get(a) as {
          record: string;
        }
      ).record,
    );
    record.definition.steps[1].kind = "optional";
    raw
      .prepare("UPDATE lockstep_sagas SET record = ? WHERE saga_id = ?")
      .run(JSON.stringify(record), a);
    raw.close();

    const recoverer = createRecoverer({
      runner: createRunner({ log: world.log, clock: ahead(3_600_000) }),
      sagas: [transferSaga(world)],
    });
    const pass = (await recoverer.recover())._unsafeUnwrap();
    expect(pass.claimed).toBe(2);
    const byId = new Map(pass.sagas.map((s) => [s.sagaId, s]));
    const corrupt = byId.get(a);
    expect(corrupt?.outcome).toBe("quarantined");
    expect(corrupt?.error?.code).toBe(ErrorCode.RecordCorrupt);
    if (corrupt?.error?.code === ErrorCode.RecordCorrupt) {
      expect(corrupt.error.sagaId).toBe(a);
      expect(corrupt.error.field).toBe("definition.steps.1.kind");
    }
    expect(byId.get(b)?.outcome).toBe("compensated");
    const listed = await world.log.list();
    expect(listed.find((r) => r.sagaId === a)?.status).toBe("quarantined");
    // A quarantined saga is left alone from then on.
    expect((await recoverer.recover())._unsafeUnwrap().claimed).toBe(0);
  });

  it("a step whose execute never started is compensated as a recorded no-op", async () => {
    // The run dies after the pivot's intent is durable but before its statement is sent.
    const sagaId = "saga-null";
    let dead = false;
    const orders = hookStore(
      world.orders,
      (name) => {
        if (name === "orders before insert") {
          dead = true;
          throw new Error("process died");
        }
      },
      "orders",
    );
    const log = new Proxy(world.log, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) =>
          dead ? Promise.reject(new Error("process died")) : value.apply(target, args);
      },
    });
    await createRunner({ log }).run(transferSaga({ ...world, orders }), input("o-n"), { sagaId });
    const recoverer = createRecoverer({
      runner: createRunner({ log: world.log, clock: ahead(3_600_000) }),
      sagas: [transferSaga(world)],
    });
    const pass = (await recoverer.recover())._unsafeUnwrap();
    expect(pass.sagas[0]?.outcome).toBe("compensated");
    const entries = (await world.log.load(sagaId))?.entries ?? [];
    const confirm = entries.filter((e) => e.step === "confirm").map((e) => e.type);
    expect(confirm).toEqual([
      EntryType.Intent,
      EntryType.NotCommitted,
      EntryType.CompensationSkipped,
    ]);
    expect(entries.filter((e) => e.step === "reserve").map((e) => e.type)).toContain(
      EntryType.Compensated,
    );
    const { state, total } = await judge(world);
    expect([state, total]).toEqual(["nothing", 100]);
  });

  it("a zombie runner's next co-committed step is rolled back by the fencing token", async () => {
    const sagaId = "saga-zombie";
    // The first runner stalls after its pivot's write; meanwhile its lease lapses and a recoverer
    // takes the saga over. SQLite has one writer, so the takeover happens between the zombie's steps.
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const inside = Object.assign(
      new Promise<void>((resolve) => {
        entered = resolve;
      }),
      { done: false },
    );
    const orders = hookStore(
      world.orders,
      async (name) => {
        if (name === "orders after insert" && !inside.done) {
          inside.done = true;
          entered();
          await stalled;
        }
      },
      "orders",
    );
    const zombie = createRunner({ log: world.log, leaseTtlMs: 1_000, timeoutMs: 60_000 });
    const running = zombie.run(
      transferSaga({ ...world, orders }),
      { ...input("o-1"), amount: 30 },
      { sagaId },
    );
    await inside;
    expect(await world.log.acquireLease(sagaId, "recoverer", 1_000, Date.now() + 5_000)).toBe(2);
    release();
    const result = await running;
    expect(result._unsafeUnwrapErr().code).toBe(ErrorCode.LeaseLost);
    // The capture the zombie attempted next was rolled back with its refused log write.
    const hold = await world.funds.handle.get<{ status: string }>("SELECT status FROM holds");
    expect(hold?.status).toBe("held");
    const entries = (await world.log.load(sagaId))?.entries ?? [];
    expect(entries.filter((e) => e.step === "capture")).toEqual([]);
    // Recovery, now the owner of record, rolls the saga forward past its committed pivot.
    const recoverer = createRecoverer({
      runner: createRunner({ log: world.log, clock: ahead(3_600_000) }),
      sagas: [transferSaga(world)],
    });
    expect((await recoverer.recover())._unsafeUnwrap().sagas[0]?.outcome).toBe("completed");
    const { state, total } = await judge(world);
    expect([state, total]).toEqual(["all", 100]);
  });
});
