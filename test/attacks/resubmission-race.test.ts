import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { postgresSagaLog } from "../../src/adapters/postgres/index.js";
import { openSqlite, sqliteSagaLog } from "../../src/adapters/sqlite/index.js";
import {
  committed,
  compensated,
  createRecoverer,
  createRunner,
  defineSaga,
  defineStore,
  MemorySagaLog,
  notCommitted,
  type SagaLog,
  SCHEMA_VERSION,
  StoreError,
} from "../../src/index.js";

/**
 * A saga id resubmitted while recovery finishes the same saga: the resubmission loads the saga,
 * pauses (a GC pause, a slow event loop) before it takes the lease, and recovery drives the saga to
 * its end in that pause. Whatever the resubmission loaded is stale by the time it holds the lease;
 * it must return the recorded outcome and execute nothing.
 */

interface World {
  readonly effects: Map<string, number>;
  pivotRefuses: boolean;
}

function sagaOf(world: World, recovery: "compensate" | "roll_forward") {
  const bump = (key: string) => world.effects.set(key, (world.effects.get(key) ?? 0) + 1);
  const store = defineStore({ id: "effects", handle: world });
  return defineSaga("resubmitted", { input: z.object({ id: z.string() }), recovery })
    .step("hold", {
      store,
      kind: "compensatable",
      output: z.object({ held: z.boolean() }),
      execute: async ({ input }) => {
        bump(`hold:${input.id}`);
        return { held: true };
      },
      probe: async ({ input }) =>
        (world.effects.get(`hold:${input.id}`) ?? 0) > 0
          ? committed({ held: true })
          : notCommitted(),
      compensate: async ({ input }) => {
        bump(`release:${input.id}`);
        return compensated();
      },
    })
    .step("charge", {
      store,
      kind: "pivot",
      output: z.object({ charged: z.boolean() }),
      execute: async ({ input }) => {
        if (world.pivotRefuses) throw new StoreError("not_committed", "the card was declined");
        bump(`charge:${input.id}`);
        return { charged: true };
      },
      probe: async ({ input }) =>
        (world.effects.get(`charge:${input.id}`) ?? 0) > 0
          ? committed({ charged: true })
          : notCommitted(),
    })
    .build();
}

/** Delays `acquireLease` until `release()` is called, once. */
function pausedBeforeLease(log: SagaLog): {
  log: SagaLog;
  paused: Promise<void>;
  release: () => void;
} {
  let release!: () => void;
  let reached!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const paused = new Promise<void>((resolve) => {
    reached = resolve;
  });
  let armed = true;
  const acquireLease: SagaLog["acquireLease"] = async (...args) => {
    if (armed) {
      armed = false;
      reached();
      await gate;
    }
    return log.acquireLease(...args);
  };
  const wrapped = new Proxy(log, {
    get(target, property) {
      if (property === "acquireLease") return acquireLease;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { log: wrapped, paused, release };
}

interface LogUnderTest {
  readonly name: string;
  open(): Promise<{ log: SagaLog; close: () => Promise<void> }>;
}

const PG_URL = "postgres://postgres@127.0.0.1:5432/test";
let schemaCount = 0;

const LOGS: readonly LogUnderTest[] = [
  { name: "memory", open: async () => ({ log: new MemorySagaLog(), close: async () => {} }) },
  {
    name: "sqlite",
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), "lockstep-resubmit-"));
      const db = openSqlite(join(dir, "log.db"));
      return {
        log: sqliteSagaLog(db),
        close: async () => {
          db.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: "postgres",
    open: async () => {
      const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
      const schema = `resubmit_${process.pid}_${++schemaCount}`;
      const log = postgresSagaLog(pool, { schema });
      return {
        log,
        close: async () => {
          await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await pool.end();
        },
      };
    },
  },
];

/** A saga record as a crashed runner leaves it: running, lease long expired, nothing executed. */
async function strandSaga(log: SagaLog, sagaId: string, saga: ReturnType<typeof sagaOf>) {
  await log.create({
    schemaVersion: SCHEMA_VERSION,
    sagaId,
    definition: saga.definition,
    input: { id: sagaId },
    status: "running",
    attention: null,
    fencingToken: 1,
    leaseOwner: "crashed",
    leaseExpiresAt: 1,
    recoveryAttempts: 0,
    nextRecoveryAt: 0,
    createdAt: 1,
    updatedAt: 1,
  });
}

let casesRun = 0;
afterAll(() => {
  // Two scenarios on each log: an enumeration that ran fewer would hide a log.
  expect(casesRun).toBe(LOGS.length * 2);
});

describe.each(LOGS)("a resubmission paused before its lease, on the $name log", (under) => {
  let opened: Awaited<ReturnType<LogUnderTest["open"]>>;
  beforeAll(async () => {
    opened = await under.open();
    return () => opened.close();
  });

  it("returns the completed outcome recovery recorded and charges once", async () => {
    casesRun++;
    const world: World = { effects: new Map(), pivotRefuses: false };
    const saga = sagaOf(world, "roll_forward");
    const sagaId = `completed-${under.name}`;
    await strandSaga(opened.log, sagaId, saga);
    const paused = pausedBeforeLease(opened.log);
    const resubmitted = createRunner({ log: paused.log, leaseTtlMs: 5_000 }).run(
      saga,
      { id: sagaId },
      { sagaId },
    );
    await paused.paused;
    const recoverer = createRecoverer({
      runner: createRunner({ log: opened.log, leaseTtlMs: 5_000 }),
      sagas: [saga],
    });
    await recoverer.recover();
    expect((await opened.log.load(sagaId))?.record.status).toBe("completed");
    paused.release();
    const result = await resubmitted;
    expect(world.effects.get(`charge:${sagaId}`), "the pivot ran twice").toBe(1);
    expect(world.effects.get(`hold:${sagaId}`)).toBe(1);
    expect(result.isOk(), result.isErr() ? result.error.message : "").toBe(true);
    expect(result._unsafeUnwrap().status).toBe("completed");
    expect((await opened.log.load(sagaId))?.record.status).toBe("completed");
  });

  it("returns the compensated outcome recovery recorded and never turns it completed", async () => {
    casesRun++;
    const world: World = { effects: new Map(), pivotRefuses: true };
    const saga = sagaOf(world, "compensate");
    const sagaId = `compensated-${under.name}`;
    await strandSaga(opened.log, sagaId, saga);
    const paused = pausedBeforeLease(opened.log);
    const resubmitted = createRunner({ log: paused.log, leaseTtlMs: 5_000 }).run(
      saga,
      { id: sagaId },
      { sagaId },
    );
    await paused.paused;
    const recoverer = createRecoverer({
      runner: createRunner({ log: opened.log, leaseTtlMs: 5_000, retry: { attempts: 1 } }),
      sagas: [saga],
    });
    await recoverer.recover();
    expect((await opened.log.load(sagaId))?.record.status).toBe("compensated");
    // The card now goes through: a resubmission that re-ran from its stale snapshot would charge.
    world.pivotRefuses = false;
    paused.release();
    const result = await resubmitted;
    expect(world.effects.get(`charge:${sagaId}`) ?? 0, "a compensated saga was charged").toBe(0);
    expect(world.effects.get(`hold:${sagaId}`) ?? 0, "the hold was taken again").toBe(0);
    expect(result.isErr()).toBe(true);
    expect((await opened.log.load(sagaId))?.record.status).toBe("compensated");
  });
});
