import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createRunner, RECOVERABLE_STATUSES, type SagaLog, SagaStatus } from "lockstep";
import type pg from "pg";
import { RESULT } from "../support/child.js";
import { cpuBusy } from "../support/cpu-busy.js";
import { createDatabase } from "../support/postgres.js";
import { perSec, type Row } from "../support/report.js";
import { ROWS_DDL } from "../support/three-step-saga.js";
import { columnsOf, openRecoveryWorld, type RecoveryWorld } from "./b4-recovery-world.js";

/**
 * B4: 10,000 interrupted sagas recovered from one Postgres log by 1 and by 4 worker processes.
 *
 * Half the sagas died inside their pivot (its intent durable, its write not made): recovery probes
 * the pivot, finds nothing, and compensates the first step with its guarded undo. The other half
 * died inside their last step, after the pivot: recovery probes it and rolls forward. Two sagas are
 * interrupted for real through the public API; the rest are SQL clones of them (every row of the
 * log and of the application table, with the saga id rewritten), because interrupting 10,000 sagas
 * one by one would take longer than recovering them. Each worker drives `CONCURRENCY` sagas at once.
 */
const SAGAS = Number(process.env.B4_SAGAS ?? 10_000);
const CONCURRENCY = 6;
const WORKER_COUNTS = [1, 4] as const;

class ProcessDied extends Error {}

/** Wraps the log so that once `dead` is set every call fails, as in a process that has stopped. */
function dyingLog(log: SagaLog, state: { dead: boolean }): SagaLog {
  const guard =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (state.dead) throw new ProcessDied("the process died");
      return fn(...args);
    };
  return {
    create: guard((record, entries) => log.create(record, entries)),
    write: guard((id, token, change) => log.write(id, token, change)),
    acquireLease: guard((...a) => log.acquireLease(...a)),
    renewLease: guard((...a) => log.renewLease(...a)),
    releaseLease: guard((...a) => log.releaseLease(...a)),
    load: guard((id) => log.load(id)),
    claimRecoverable: guard((...a) => log.claimRecoverable(...a)),
    quarantine: guard((...a) => log.quarantine(...a)),
    list: guard((filter) => log.list(filter)),
    prune: guard((before) => log.prune(before)),
  };
}

/** Runs one saga that dies on entering `step`, and returns its id. */
async function interrupt(world: RecoveryWorld, step: string, n: number): Promise<string> {
  const state = { dead: false };
  world.hooks.beforeStep = (current) => {
    if (current === step) {
      state.dead = true;
      throw new ProcessDied(`died in ${step}`);
    }
  };
  const runner = createRunner({ log: dyingLog(world.log, state), owner: "parent" });
  const result = await runner.run(world.saga, { n });
  world.hooks.beforeStep = undefined;
  if (result.isOk() || !state.dead) throw new Error(`the saga meant to die in ${step} did not`);
  return (await world.log.list({ limit: 1 }))[0]?.sagaId ?? "";
}

/** Clones every row of `table` whose `key` column is `id`, `copies` times, rewriting the id. */
async function cloneRows(
  pool: pg.Pool,
  table: string,
  key: string,
  id: string,
  copies: number,
): Promise<void> {
  const columns = await columnsOf(pool, table);
  const select = columns.map(({ name, text }) => {
    // A dead process's lease is as good as expired; the clones start with none.
    if (name === "lease_owner" || name === "lease_expires_at") return "NULL";
    return text ? `replace(${name}, $1, $1 || '-' || g)` : name;
  });
  await pool.query(
    `INSERT INTO ${table} (${columns.map((c) => c.name).join(", ")})
     SELECT ${select.join(", ")} FROM ${table}, generate_series(1, $2::int) AS g WHERE ${key} = $1`,
    [id, copies],
  );
}

/** Fills the log with `SAGAS` interrupted sagas, half before and half after the pivot. */
async function prepare(world: RecoveryWorld): Promise<void> {
  await world.logPool.query("TRUNCATE lockstep_sagas CASCADE");
  await world.appPool.query("TRUNCATE bench_rows");
  const templates = [await interrupt(world, "charge", 1)];
  templates.push(await interrupt(world, "notify", 2));
  for (const id of templates) {
    await cloneRows(world.logPool, "lockstep_sagas", "saga_id", id, SAGAS / 2);
    await cloneRows(world.logPool, "lockstep_saga_entries", "saga_id", id, SAGAS / 2);
    await cloneRows(world.appPool, "bench_rows", "saga_id", id, SAGAS / 2);
    await world.logPool.query("DELETE FROM lockstep_sagas WHERE saga_id = $1", [id]);
    await world.appPool.query("DELETE FROM bench_rows WHERE saga_id = $1", [id]);
  }
  await world.logPool.query("VACUUM ANALYZE lockstep_sagas");
  await world.logPool.query("VACUUM ANALYZE lockstep_saga_entries");
  await world.appPool.query("VACUUM ANALYZE bench_rows");
  const { rows } = await world.logPool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM lockstep_sagas WHERE status = ANY($1::text[]) AND lease_owner IS NULL",
    [RECOVERABLE_STATUSES],
  );
  if (rows[0]?.n !== SAGAS)
    throw new Error(`expected ${SAGAS} interrupted sagas, found ${rows[0]?.n}`);
}

interface WorkerResult {
  readonly worker: string;
  readonly claimed: number;
  readonly outcomes: Record<string, number>;
  readonly finishedAt: number;
  /** CPU time the worker's process spent from "go" to its result. */
  readonly cpuMs: number;
}

function spawnWorker(name: string, logUrl: string, appUrl: string) {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "bench/workloads/b4-recovery-worker.ts"],
    {
      cwd: process.cwd(),
      env: {
        ...process.env,
        LOG_URL: logUrl,
        APP_URL: appUrl,
        WORKER: name,
        CONCURRENCY: String(CONCURRENCY),
      },
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr = (stderr + String(chunk)).slice(-4000);
  });
  let result: WorkerResult | undefined;
  let onReady = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  createInterface({ input: child.stdout }).on("line", (line) => {
    if (line === "ready") onReady();
    if (line.startsWith(RESULT)) result = JSON.parse(line.slice(RESULT.length)) as WorkerResult;
  });
  const done = new Promise<WorkerResult>((resolve, reject) => {
    child.on("close", (code) => {
      onReady();
      if (code === 0 && result !== undefined) resolve(result);
      else reject(new Error(`recovery worker ${name} exited with ${code}: ${stderr}`));
    });
  });
  return { ready, done, go: () => child.stdin.write("go\n") };
}

/** Recovers the prepared log with `count` workers; returns sagas per second. */
async function recoverWith(
  count: number,
  world: RecoveryWorld,
  logUrl: string,
  appUrl: string,
): Promise<{
  perSec: number;
  seconds: number;
  perWorker: number[];
  cpuMsPerSaga: number;
  machineBusy: number;
}> {
  const workers = Array.from({ length: count }, (_, i) =>
    spawnWorker(`worker-${i + 1}`, logUrl, appUrl),
  );
  await Promise.all(workers.map((w) => w.ready));
  const started = Date.now();
  const busy = cpuBusy();
  for (const w of workers) w.go();
  const results = await Promise.all(workers.map((w) => w.done));
  const machineBusy = busy();
  const seconds = (Math.max(...results.map((r) => r.finishedAt)) - started) / 1000;
  // The figure counts only if every saga really ended where recovery must take it.
  const { rows } = await world.logPool.query<{ status: string; n: number }>(
    "SELECT status, count(*)::int AS n FROM lockstep_sagas GROUP BY status",
  );
  const statuses = Object.fromEntries(rows.map((r) => [r.status, r.n]));
  const claimed = results.reduce((sum, r) => sum + r.claimed, 0);
  if (
    statuses[SagaStatus.Completed] !== SAGAS / 2 ||
    statuses[SagaStatus.Compensated] !== SAGAS / 2 ||
    claimed !== SAGAS
  ) {
    throw new Error(
      `recovery with ${count} workers ended with ${JSON.stringify(statuses)} after ${claimed} claims`,
    );
  }
  return {
    perSec: SAGAS / seconds,
    seconds,
    perWorker: results.map((r) => r.claimed),
    cpuMsPerSaga: results.reduce((sum, r) => sum + r.cpuMs, 0) / SAGAS,
    machineBusy,
  };
}

const pct = (fraction: number) => `${(fraction * 100).toFixed(0)}%`;

export async function benchRecovery(admin: pg.Pool): Promise<Row[]> {
  const logDb = await createDatabase(admin, "b4log");
  const appDb = await createDatabase(admin, "b4app");
  const world = openRecoveryWorld(logDb.url, appDb.url, 4);
  try {
    await world.appPool.query(ROWS_DDL);
    await world.log.ensureSchema();
    const rates: Record<number, Awaited<ReturnType<typeof recoverWith>>> = {};
    for (const count of WORKER_COUNTS) {
      await prepare(world);
      rates[count] = await recoverWith(count, world, logDb.url, appDb.url);
    }
    const one = rates[1] as Awaited<ReturnType<typeof recoverWith>>;
    const four = rates[4] as Awaited<ReturnType<typeof recoverWith>>;
    return [
      {
        id: "B4",
        what: `recovery of ${SAGAS.toLocaleString("en")} interrupted sagas (half compensated, half rolled forward) from a Postgres log, ${CONCURRENCY} at a time per process: 4 worker processes vs 1`,
        lockstep: `${perSec(four.perSec)} (${four.seconds.toFixed(1)} s; claims per worker ${four.perWorker.join("/")})`,
        baseline: `${perSec(one.perSec)} (${one.seconds.toFixed(1)} s, 1 worker)`,
        ratio: four.perSec / one.perSec,
        ratioIs: "scaling: 4-worker ÷ 1-worker rate",
      },
      {
        id: "B4",
        what: `recovery: CPU of the worker processes per recovered saga (Postgres's own CPU not included); the whole machine's CPU was ${pct(one.machineBusy)} busy with 1 worker, ${pct(four.machineBusy)} with 4`,
        lockstep: `${four.cpuMsPerSaga.toFixed(2)} ms (4 workers)`,
        baseline: `${one.cpuMsPerSaga.toFixed(2)} ms (1 worker)`,
        ratio: four.cpuMsPerSaga / one.cpuMsPerSaga,
        ratioIs: "4-worker ÷ 1-worker CPU per saga",
      },
    ];
  } finally {
    await world.close();
    await logDb.drop();
    await appDb.drop();
  }
}
