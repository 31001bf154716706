import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createRunner,
  RECOVERABLE_STATUSES,
  SagaStatus,
  TERMINAL_STATUSES,
} from "../../src/index.js";
import {
  type TestDatabase as MysqlTestDatabase,
  openDatabase as openMysqlDatabase,
} from "../adapters/mysql/mysql-test.js";
import { openDatabase as openPostgresDatabase } from "../adapters/postgres/pg-test.js";
import {
  type Backend,
  CRASH_MODES,
  type CrashMode,
  createFulfilTables,
  dyingLog,
  type FulfilWorld,
  fulfilSaga,
  openFulfilWorld,
  ProcessDied,
} from "./fulfil-world.js";

const WORKERS = 4;
const PARENT_LEASE_MS = 1_500;

interface WorkerResult {
  readonly worker: string;
  readonly passes?: number;
  readonly claimed?: string[];
  readonly outcomes?: Record<string, number>;
  readonly error?: string;
}

const modeOf = (sagaId: string): CrashMode => {
  const mode = CRASH_MODES.find((m) => sagaId.startsWith(`${m.name}:`));
  if (mode === undefined) throw new Error(`saga ${sagaId} has no crash mode`);
  return mode;
};

/** Runs every saga in the parent until its crash point, a few at a time. */
async function crashEverySaga(world: FulfilWorld, PER_MODE: number): Promise<void> {
  const deaths = new Map<string, () => void>();
  world.beforeShip = (sagaId) => {
    if (modeOf(sagaId).dieInShip) {
      deaths.get(sagaId)?.();
      throw new ProcessDied();
    }
  };
  const jobs = CRASH_MODES.flatMap((mode) =>
    Array.from({ length: PER_MODE }, (_, i) => ({ mode, sagaId: `${mode.name}:${i}` })),
  );
  let next = 0;
  const runOne = async () => {
    while (next < jobs.length) {
      const { mode, sagaId } = jobs[next++] as (typeof jobs)[number];
      const dying = dyingLog(world.log, mode);
      deaths.set(sagaId, dying.kill);
      const runner = createRunner({ log: dying.log, owner: "parent", leaseTtlMs: PARENT_LEASE_MS });
      const result = await runner.run(
        fulfilSaga(world),
        { orderId: `order-${sagaId}`, amount: 10 },
        { sagaId },
      );
      if (result.isOk() || !dying.dead) {
        throw new Error(
          `Saga ${sagaId} was meant to die (${mode.name}) but ended ${JSON.stringify(result)}.`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, runOne));
}

/** Where each saga stands in the log: the pivot's entries decide. */
async function standings(world: FulfilWorld, SAGAS: number): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  for (const record of await world.log.list({ limit: SAGAS + 1 })) {
    const ship = ((await world.log.load(record.sagaId))?.entries ?? []).filter(
      (e) => e.step === "ship",
    );
    const stands = ship.some((e) => e.type === "committed")
      ? "after_pivot"
      : ship.some((e) => e.type === "intent")
        ? "pivot_in_doubt"
        : "before_pivot";
    result.set(record.sagaId, `${record.status}/${stands}`);
  }
  return result;
}

/** A database of the test's own: its URL, and how to drop it. */
interface TestDatabase {
  readonly url: string;
  close(): Promise<void>;
}

const OPEN: Record<Backend, () => Promise<TestDatabase>> = {
  postgres: openPostgresDatabase,
  mysql: async () => {
    const db: MysqlTestDatabase = await openMysqlDatabase();
    return db;
  },
};

function spawnWorker(name: string, main: TestDatabase, other: TestDatabase) {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", "test/multiprocess/recovery-worker.ts"],
    {
      cwd: process.cwd(),
      env: { ...process.env, MAIN_URL: main.url, OTHER_URL: other.url, WORKER: name },
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += String(chunk);
  });
  let readyResolve!: () => void;
  const ready = new Promise<void>((resolve) => {
    readyResolve = resolve;
  });
  let result: WorkerResult | undefined;
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    if (line === "ready") readyResolve();
    if (line.startsWith("result ")) result = JSON.parse(line.slice("result ".length));
  });
  const exited = new Promise<{
    code: number | null;
    result: WorkerResult | undefined;
    stderr: string;
  }>((resolve) => {
    child.on("exit", (code) => {
      readyResolve();
      resolve({ code, result, stderr });
    });
  });
  return { child, ready, exited, go: () => child.stdin?.write("go\n") };
}

/**
 * Registers the test on `backend`: `perMode` sagas per crash mode, crashed in the parent, then
 * recovered by four worker processes sharing the log. `atLeast` guards the scale.
 */
export function concurrentRecoverySuite(backend: Backend, perMode: number, atLeast: number): void {
  const PER_MODE = perMode;
  const SAGAS = PER_MODE * CRASH_MODES.length;
  describe(`${WORKERS} recovery processes sharing one ${backend === "mysql" ? "MySQL" : "Postgres"} log`, () => {
    let main: TestDatabase;
    let other: TestDatabase;
    let world: FulfilWorld;

    beforeAll(async () => {
      main = await OPEN[backend]();
      other = await OPEN[backend]();
      world = openFulfilWorld(main.url, other.url, "parent");
      await createFulfilTables(world);
    });

    afterAll(async () => {
      await world?.close();
      await other?.close();
      await main?.close();
    });

    it(`recover ${SAGAS} interrupted sagas concurrently: each exactly once, none left behind`, async () => {
      expect(SAGAS).toBeGreaterThanOrEqual(atLeast);
      const started = Date.now();
      await crashEverySaga(world, PER_MODE);
      const crashed = Date.now();

      // The setup is what it claims: every saga is mid-flight, in the state its crash mode says.
      const before = await standings(world, SAGAS);
      expect(before.size).toBe(SAGAS);
      const tally = (map: Map<string, string>) => {
        const counts: Record<string, number> = {};
        for (const value of map.values()) counts[value] = (counts[value] ?? 0) + 1;
        return counts;
      };
      const expectedStands: Record<string, number> = {};
      for (const [sagaId, stands] of before) {
        const mode = modeOf(sagaId);
        expect(stands.split("/")[1], `${sagaId} after its crash`).toBe(mode.stands);
        expect(RECOVERABLE_STATUSES, sagaId).toContain(stands.split("/")[0]);
        expectedStands[mode.stands] = (expectedStands[mode.stands] ?? 0) + 1;
      }
      console.log(
        `[multiprocess ${backend}] interrupted sagas by state: ${JSON.stringify(tally(before))}`,
      );
      expect(expectedStands.before_pivot).toBeGreaterThan(0);
      expect(expectedStands.pivot_in_doubt).toBeGreaterThan(0);
      expect(expectedStands.after_pivot).toBeGreaterThan(0);
      const parentCalls = await world.mainSql<{ n: number }>(
        "SELECT count(*) AS n FROM calls WHERE worker = 'parent'",
      );
      expect(
        Number(parentCalls.rows[0]?.n),
        "the parent ran exactly the calls its crash points allow",
      ).toBe(CRASH_MODES.reduce((sum, m) => sum + m.parentCalls, 0) * PER_MODE);

      // The dead parent's leases must lapse before anyone may take its sagas over.
      for (;;) {
        const { rows } = await world.mainSql<{ live: number }>(
          "SELECT count(*) AS live FROM lockstep_sagas WHERE lease_expires_at > ?",
          [Date.now()],
        );
        if (Number(rows[0]?.live) === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }

      const spawning = Date.now();
      const workers = Array.from({ length: WORKERS }, (_, i) =>
        spawnWorker(`worker-${i + 1}`, main, other),
      );
      await Promise.all(workers.map((w) => w.ready));
      const going = Date.now();
      for (const w of workers) w.go();
      const exits = await Promise.all(workers.map((w) => w.exited));
      console.log(
        `[multiprocess ${backend}] durations: crashing ${crashed - started} ms, leases lapsing ${spawning - crashed} ms, workers starting ${going - spawning} ms, recovering ${Date.now() - going} ms`,
      );
      for (const exit of exits) {
        expect(exit.code, `a worker failed: ${exit.result?.error ?? exit.stderr}`).toBe(0);
      }
      const results = exits.map((e) => e.result as WorkerResult);

      // Every saga was claimed exactly once, across all processes.
      const claims = results.flatMap((r) => r.claimed ?? []);
      const perWorker = Object.fromEntries(results.map((r) => [r.worker, r.claimed?.length ?? 0]));
      console.log(
        `[multiprocess ${backend}] claims per worker: ${JSON.stringify(perWorker)} (total ${claims.length})`,
      );
      expect(claims.length, "every saga claimed once, none twice").toBe(SAGAS);
      expect(new Set(claims).size).toBe(SAGAS);
      expect(
        results.filter((r) => (r.claimed?.length ?? 0) > 0).length,
        "the workers recovered side by side",
      ).toBeGreaterThanOrEqual(2);
      const tokens = await world.mainSql<{ token: string; n: number }>(
        "SELECT fencing_token AS token, count(*) AS n FROM lockstep_sagas GROUP BY fencing_token",
      );
      expect(
        tokens.rows.map((r) => ({ token: String(r.token), n: Number(r.n) })),
        "one takeover per saga: the parent's token 1, then 2",
      ).toEqual([{ token: "2", n: SAGAS }]);

      // Nothing is left mid-flight, and each saga ended as its crash point requires.
      const after = await world.log.list({ limit: SAGAS + 1 });
      const statuses: Record<string, number> = {};
      for (const record of after) {
        statuses[record.status] = (statuses[record.status] ?? 0) + 1;
        expect(TERMINAL_STATUSES, record.sagaId).toContain(record.status);
        expect(record.status, record.sagaId).toBe(modeOf(record.sagaId).recovered);
      }
      console.log(`[multiprocess ${backend}] final statuses: ${JSON.stringify(statuses)}`);
      const ending = (status: string) =>
        CRASH_MODES.filter((m) => m.recovered === status).length * PER_MODE;
      expect(statuses[SagaStatus.Completed]).toBe(ending(SagaStatus.Completed));
      expect(statuses[SagaStatus.Compensated]).toBe(ending(SagaStatus.Compensated));

      // No step was executed (or compensated) twice by recovery, and no saga by two workers.
      const twice = await world.mainSql(
        `SELECT saga_id, step, kind, count(*) AS n FROM calls WHERE worker <> 'parent'
       GROUP BY saga_id, step, kind HAVING count(*) > 1`,
      );
      const shared = await world.mainSql(
        `SELECT saga_id FROM calls WHERE worker <> 'parent' GROUP BY saga_id HAVING count(DISTINCT worker) > 1`,
      );
      const recoveryCalls = await world.mainSql<{ n: number }>(
        "SELECT count(*) AS n FROM calls WHERE worker <> 'parent'",
      );
      console.log(
        `[multiprocess ${backend}] recovery calls: ${recoveryCalls.rows[0]?.n}; executed twice: ${twice.rows.length}; sagas touched by two workers: ${shared.rows.length}`,
      );
      expect(twice.rows, "a step executed twice by recovery").toEqual([]);
      expect(shared.rows, "a saga driven by two workers").toEqual([]);
      expect(Number(recoveryCalls.rows[0]?.n)).toBe(
        CRASH_MODES.reduce((sum, m) => sum + m.recoveryCalls, 0) * PER_MODE,
      );

      // The stores agree with the log, saga by saga.
      const reservations = new Map(
        (
          await world.mainSql<{ saga_id: string; status: string }>(
            "SELECT saga_id, status FROM reservations",
          )
        ).rows.map((r) => [r.saga_id, r.status]),
      );
      const shipped = new Set(
        (await world.otherSql<{ saga_id: string }>("SELECT saga_id FROM shipments")).rows.map(
          (r) => r.saga_id,
        ),
      );
      const notified = await world.otherSql<{ saga_id: string; n: number }>(
        "SELECT saga_id, count(*) AS n FROM notices GROUP BY saga_id",
      );
      const notices = new Map(notified.rows.map((r) => [r.saga_id, Number(r.n)]));
      for (const record of after) {
        const id = record.sagaId;
        if (record.status === SagaStatus.Completed) {
          expect([reservations.get(id), shipped.has(id), notices.get(id)], id).toEqual([
            "captured",
            true,
            1,
          ]);
        } else {
          expect(["released", undefined], id).toContain(reservations.get(id));
          expect([shipped.has(id), notices.get(id)], id).toEqual([false, undefined]);
        }
      }
    });
  });
}
