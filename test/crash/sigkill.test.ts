import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createRecoverer, createRunner, systemClock } from "../../src/index.js";
import { openPool as openMysqlPool, uniqueName } from "../adapters/mysql/mysql-test.js";
import {
  dump,
  INITIAL_TOTAL,
  judge,
  MYSQL_LOG_FILE,
  openWorld,
  SAGA_ID,
  seedWorld,
  transferSaga,
} from "./transfer-world.js";

const CHILD = fileURLToPath(new URL("./child.ts", import.meta.url));
type Path = "happy" | "compensating";

interface ChildResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly boundaries: readonly string[];
  readonly stderr: string;
}

function child(dir: string, phase: "run" | "recover", crashAt: number): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ["--import", "tsx", CHILD], {
      env: { ...process.env, DIR: dir, PHASE: phase, CRASH_AT: String(crashAt) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d) => {
      stdout += d;
    });
    proc.stderr.on("data", (d) => {
      stderr += d;
    });
    proc.on("error", reject);
    proc.on("close", (code, signal) => {
      let boundaries: string[] = [];
      if (stdout.length > 0)
        boundaries = (JSON.parse(stdout) as { boundaries: string[] }).boundaries;
      resolve({ code, signal, boundaries, stderr });
    });
  });
}

/** Where the saga log lives: in main.db beside the funds, or in a MySQL database of its own. */
type LogKind = "sqlite" | "mysql";

async function freshDir(path: Path, logKind: LogKind): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "lockstep-crash-"));
  if (logKind === "mysql") {
    const database = uniqueName("lockstep_crash");
    const admin = openMysqlPool(undefined, { connectionLimit: 1 });
    try {
      await admin.query(`CREATE DATABASE \`${database}\``);
    } finally {
      await admin.end();
    }
    writeFileSync(join(dir, MYSQL_LOG_FILE), database);
  }
  const world = openWorld(dir);
  await seedWorld(world, path);
  await world.close();
  return dir;
}

/** Removes a world's files, and its MySQL log database if it has one. */
async function removeDir(dir: string): Promise<void> {
  const file = join(dir, MYSQL_LOG_FILE);
  if (existsSync(file)) {
    const admin = openMysqlPool(undefined, { connectionLimit: 1 });
    try {
      await admin.query(`DROP DATABASE IF EXISTS \`${readFileSync(file, "utf8").trim()}\``);
    } finally {
      await admin.end();
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** A fresh process's view: reopen the files, recover twice, check every invariant. */
async function recoverAndCheck(dir: string, path: Path, label: string): Promise<"all" | "nothing"> {
  const world = openWorld(dir);
  try {
    const saga = transferSaga(world);
    const ahead = { now: () => Date.now() + 7_200_000, setTimer: systemClock.setTimer };
    const recoverer = createRecoverer({
      runner: createRunner({ log: world.log, clock: ahead }),
      sagas: [saga],
    });
    (await recoverer.recover())._unsafeUnwrap();
    const once = `${await dump(world)}${JSON.stringify(await world.log.load(SAGA_ID))}`;
    const second = (await recoverer.recover())._unsafeUnwrap();
    const twice = `${await dump(world)}${JSON.stringify(await world.log.load(SAGA_ID))}`;
    expect(second.claimed, `${label}: a second recovery pass found work`).toBe(0);
    expect(twice, `${label}: a second recovery pass changed the stores or the log`).toBe(once);
    const { state, total } = await judge(world);
    expect(total, `${label}: credits were not conserved`).toBe(INITIAL_TOTAL);
    if (path === "compensating") expect(state, label).toBe("nothing");
    const record = (await world.log.load(SAGA_ID))?.record;
    if (record === undefined) {
      expect(state, `${label}: no saga, yet something was written`).toBe("nothing");
    } else {
      expect(["completed", "compensated"], label).toContain(record.status);
      expect(record.status === "completed", `${label}: log and stores disagree`).toBe(
        state === "all",
      );
    }
    return state;
  } finally {
    await world.close();
  }
}

/** Runs `count` jobs, two at a time (one per core). */
async function pool<T>(count: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await job(i);
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

/**
 * How many durable boundaries each run passes. With the log in main.db the funds steps are
 * co-committed with their log records; with the log in MySQL they are ordinary probed steps.
 */
const BOUNDARIES: Record<LogKind, Record<Path, number>> = {
  sqlite: { happy: 22, compensating: 21 },
  mysql: { happy: 20, compensating: 21 },
};

/**
 * With the log in MySQL, only the run's crash points are enumerated: the crashes during recovery
 * exercise the runner and recoverer, which the SQLite log already covers, and would double the
 * suite's time.
 */
const RECOVERY_CRASHES: Record<LogKind, boolean> = { sqlite: true, mysql: false };

for (const logKind of ["sqlite", "mysql"] as const)
  describe(`SIGKILL at every crash point, then recovery in a fresh process (log: ${logKind})`, () => {
    for (const path of ["happy", "compensating"] as const) {
      it(`the ${path} path: every boundary of the run is reached, and recovery converges`, async () => {
        const dry = await freshDir(path, logKind);
        const plan = await child(dry, "run", 0);
        await removeDir(dry);
        expect(plan.code, plan.stderr).toBe(0);
        const total = plan.boundaries.length;
        // The exact count guards the enumeration itself: a boundary that disappears (say, a log write
        // merged into another) must be noticed here and the count updated on purpose.
        expect(total, plan.boundaries.join("\n")).toBe(BOUNDARIES[logKind][path]);
        const states = await pool(total, async (i) => {
          const point = i + 1;
          const dir = await freshDir(path, logKind);
          try {
            const run = await child(dir, "run", point);
            expect(
              run.signal,
              `run crash point ${point} (${plan.boundaries[i]}) was not reached: ${run.stderr}`,
            ).toBe("SIGKILL");
            return await recoverAndCheck(
              dir,
              path,
              `run crash point ${point} (${plan.boundaries[i]})`,
            );
          } finally {
            await removeDir(dir);
          }
        });
        console.log(
          `SIGKILL ${path} path (log: ${logKind}): ${total} run crash points, all reached; outcomes: ${states.filter((s) => s === "all").length} all, ${states.filter((s) => s === "nothing").length} nothing`,
        );
        expect(states).toHaveLength(total);
        if (path === "happy") expect(states).toContain("all");
        expect(states).toContain("nothing");
      });

      if (!RECOVERY_CRASHES[logKind]) continue;
      it(`the ${path} path: a crash during recovery is itself recovered`, async () => {
        // Interrupt the run at a few points that leave recovery real work, then crash recovery at each
        // of its own boundaries.
        const dry = await freshDir(path, logKind);
        const plan = await child(dry, "run", 0);
        await removeDir(dry);
        // The saga's record is created by the first funds transaction, so these come after it.
        const marks = ["funds after commit", "after log.write", "orders after insert"];
        const runPoints = marks
          .map((mark) => plan.boundaries.indexOf(mark) + 1)
          .filter((p, i, all) => p > 0 && all.indexOf(p) === i);
        expect(runPoints.length).toBeGreaterThanOrEqual(2);
        let reached = 0;
        let enumerated = 0;
        for (const runPoint of runPoints) {
          const probe = await freshDir(path, logKind);
          expect((await child(probe, "run", runPoint)).signal).toBe("SIGKILL");
          const recoveryPlan = await child(probe, "recover", 0);
          await removeDir(probe);
          expect(recoveryPlan.code, recoveryPlan.stderr).toBe(0);
          const points = recoveryPlan.boundaries.length;
          expect(points, `recovery after run point ${runPoint} did nothing`).toBeGreaterThan(2);
          enumerated += points;
          await pool(points, async (i) => {
            const dir = await freshDir(path, logKind);
            try {
              expect((await child(dir, "run", runPoint)).signal).toBe("SIGKILL");
              const recovery = await child(dir, "recover", i + 1);
              expect(
                recovery.signal,
                `recovery crash point ${i + 1} (${recoveryPlan.boundaries[i]}) was not reached`,
              ).toBe("SIGKILL");
              reached++;
              await recoverAndCheck(
                dir,
                path,
                `run point ${runPoint}, recovery crash point ${i + 1} (${recoveryPlan.boundaries[i]})`,
              );
            } finally {
              await removeDir(dir);
            }
          });
        }
        console.log(
          `SIGKILL ${path} path, during recovery: ${enumerated} recovery crash points after ${runPoints.length} run crashes, ${reached} reached`,
        );
        expect(reached).toBe(enumerated);
      });
    }
  }, 600_000);
