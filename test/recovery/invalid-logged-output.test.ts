import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { postgresSagaLog } from "../../src/adapters/postgres/index.js";
import { openSqlite, sqliteSagaLog } from "../../src/adapters/sqlite/index.js";
import { systemClock } from "../../src/core/clock.js";
import {
  committed,
  compensated,
  createRecoverer,
  createRunner,
  defineSaga,
  defineStore,
  diagnoseSaga,
  ErrorCode,
  MemorySagaLog,
  notCommitted,
  RecoveryAction,
  type SagaLog,
  SagaStatus,
} from "../../src/index.js";

/**
 * A committed step's logged output that no longer satisfies the step's schema (the schema was made
 * stricter without a new definition version, or the row was edited): recovery and resubmission must
 * not probe the step again nor hand the wrong shape to the steps after it. They quarantine the saga,
 * naming the entry, and `sagas list` (the log's `list`) shows why.
 */

interface World {
  readonly effects: Map<string, number>;
}

const ahead = { now: () => Date.now() + 3_600_000, setTimer: systemClock.setTimer };

function sagaOf(world: World, reserved: z.ZodType<unknown>) {
  const bump = (key: string) => world.effects.set(key, (world.effects.get(key) ?? 0) + 1);
  const count = (key: string) => world.effects.get(key) ?? 0;
  const store = defineStore({ id: "effects", handle: world });
  return defineSaga("checkout", { input: z.object({ id: z.string() }) })
    .step("reserve", {
      store,
      kind: "compensatable",
      output: reserved,
      execute: async ({ input }) => {
        bump(`reserve:${input.id}`);
        return { units: 3 };
      },
      probe: async ({ input }) => {
        bump(`probe:${input.id}`);
        return count(`reserve:${input.id}`) > 0 ? committed({ units: 3 }) : notCommitted();
      },
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
        bump(`charge:${input.id}`);
        return { charged: true };
      },
      probe: async ({ input }) =>
        count(`charge:${input.id}`) > 0 ? committed({ charged: true }) : notCommitted(),
    })
    .build();
}

/** The log, failing the write that records `charge` committed: the run stops after its pivot. */
function stopsAfterCharge(log: SagaLog): SagaLog {
  return new Proxy(log, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (property !== "write") return typeof value === "function" ? value.bind(target) : value;
      return async (...args: Parameters<SagaLog["write"]>) => {
        if (args[2].entries?.some((e) => e.step === "charge" && e.type === "committed"))
          throw new Error("the log's disk is full");
        return target.write(...args);
      };
    },
  });
}

interface LogUnderTest {
  readonly name: string;
  open(): Promise<{ log: SagaLog; close: () => Promise<void> }>;
}

const PG_URL = "postgres://postgres@127.0.0.1:5432/test";
const LOGS: readonly LogUnderTest[] = [
  { name: "memory", open: async () => ({ log: new MemorySagaLog(), close: async () => {} }) },
  {
    name: "sqlite",
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), "lockstep-bad-output-"));
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
      const schema = `bad_output_${process.pid}`;
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      return {
        log: postgresSagaLog(pool, { schema }),
        close: async () => {
          await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await pool.end();
        },
      };
    },
  },
];

const before = z.object({ units: z.number() });
/** The same step, its schema made stricter after the saga ran: `units` must now be a string. */
const stricter = z.object({ units: z.string() });

describe.each(LOGS)("a logged output that fails its step's schema, on the $name log", (under) => {
  let log: SagaLog;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ log, close } = await under.open());
  });
  afterAll(async () => close());

  async function interrupted(id: string, world: World): Promise<string> {
    const runner = createRunner({ log: stopsAfterCharge(log) });
    const result = await runner.run(sagaOf(world, before), { id }, { sagaId: id });
    expect(result.isErr() && result.error.code).toBe(ErrorCode.LogFailed);
    expect((await log.load(id))?.record.status).toBe(SagaStatus.Running);
    return id;
  }

  it("recovery quarantines it naming the entry, probes nothing and runs nothing", async () => {
    const world: World = { effects: new Map() };
    const id = await interrupted("recover-1", world);
    const diagnosis = (
      await diagnoseSaga(log, id, { sagas: [sagaOf(world, stricter)], clock: ahead })
    )._unsafeUnwrap();
    expect(diagnosis.action, JSON.stringify(diagnosis)).toBe(RecoveryAction.Quarantine);

    const recoverer = createRecoverer({
      runner: createRunner({ log, clock: ahead }),
      sagas: [sagaOf(world, stricter)],
    });
    const pass = (await recoverer.recover())._unsafeUnwrap();
    const recovered = pass.sagas.find((s) => s.sagaId === id);
    expect(recovered?.outcome).toBe("quarantined");
    const error = recovered?.error;
    expect(error?.code).toBe(ErrorCode.RecordCorrupt);
    const field = error?.code === ErrorCode.RecordCorrupt ? error.field : "";
    expect(field).toMatch(/^entries\.\d+\.output$/);
    expect(error?.message).toContain('step "reserve"');

    expect(
      world.effects.has(`probe:${id}`),
      "the step the log says committed is not re-probed",
    ).toBe(false);
    expect(world.effects.get(`charge:${id}`), "the pivot is not run again").toBe(1);
    expect(world.effects.has(`release:${id}`)).toBe(false);

    const listed = (await log.list()).find((r) => r.sagaId === id);
    expect(listed?.status).toBe(SagaStatus.Quarantined);
    expect(listed?.attention?.reason).toBe("corrupt_record");
    expect(listed?.attention?.message).toContain(field);
    expect((await recoverer.recover())._unsafeUnwrap().claimed).toBe(0);
  });

  it("a resubmission of the same id is refused as corrupt, quarantines it, and runs nothing", async () => {
    const world: World = { effects: new Map() };
    const id = await interrupted("resubmit-1", world);
    const runner = createRunner({ log, clock: ahead });
    const result = await runner.run(sagaOf(world, stricter), { id }, { sagaId: id });
    expect(result.isErr() && result.error.code, result.isErr() ? result.error.message : "").toBe(
      ErrorCode.RecordCorrupt,
    );
    expect(result.isErr() && result.error.message).toContain("nothing was run");
    expect(world.effects.has(`probe:${id}`)).toBe(false);
    expect(world.effects.get(`charge:${id}`)).toBe(1);
    const listed = (await log.list()).find((r) => r.sagaId === id);
    expect(listed?.status).toBe(SagaStatus.Quarantined);
    expect(listed?.attention?.reason).toBe("corrupt_record");
  });

  it("with the schema the saga ran with, the same interrupted saga recovers and completes", async () => {
    const world: World = { effects: new Map() };
    const id = await interrupted("control-1", world);
    const recoverer = createRecoverer({
      runner: createRunner({ log, clock: ahead }),
      sagas: [sagaOf(world, before)],
    });
    const pass = (await recoverer.recover())._unsafeUnwrap();
    expect(pass.sagas.find((s) => s.sagaId === id)?.outcome).toBe("completed");
    expect(world.effects.get(`charge:${id}`)).toBe(1);
  });

  it("a saga quarantined for a bad entry lists with the entry it was quarantined for", async () => {
    const world: World = { effects: new Map() };
    const id = await interrupted("listed-1", world);
    await log.quarantine(id, { field: "entries.2.output", message: "edited by hand" }, Date.now());
    const listed = (await log.list()).find((r) => r.sagaId === id);
    expect(listed?.status).toBe(SagaStatus.Quarantined);
    expect(listed?.attention).toEqual({
      reason: "corrupt_record",
      step: "",
      message: "Quarantined at `entries.2.output`: edited by hand",
    });
  });
});
