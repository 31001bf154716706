import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createRecoverer, createRunner, systemClock } from "../../src/index.js";
import {
  dump,
  INITIAL_TOTAL,
  judge,
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

async function freshDir(path: Path): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "lockstep-crash-"));
  const world = openWorld(dir);
  await seedWorld(world, path);
  world.close();
  return dir;
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
    world.close();
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

describe("SIGKILL at every crash point, then recovery in a fresh process", () => {
  for (const path of ["happy", "compensating"] as const) {
    it(`the ${path} path: every boundary of the run is reached, and recovery converges`, async () => {
      const dry = await freshDir(path);
      const plan = await child(dry, "run", 0);
      rmSync(dry, { recursive: true, force: true });
      expect(plan.code, plan.stderr).toBe(0);
      const total = plan.boundaries.length;
      // The exact count guards the enumeration itself: a boundary that disappears (say, a log write
      // merged into another) must be noticed here and the count updated on purpose.
      expect(total, plan.boundaries.join("\n")).toBe(path === "happy" ? 22 : 21);
      const states = await pool(total, async (i) => {
        const point = i + 1;
        const dir = await freshDir(path);
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
          rmSync(dir, { recursive: true, force: true });
        }
      });
      console.log(
        `SIGKILL ${path} path: ${total} run crash points, all reached; outcomes: ${states.filter((s) => s === "all").length} all, ${states.filter((s) => s === "nothing").length} nothing`,
      );
      expect(states).toHaveLength(total);
      if (path === "happy") expect(states).toContain("all");
      expect(states).toContain("nothing");
    });

    it(`the ${path} path: a crash during recovery is itself recovered`, async () => {
      // Interrupt the run at a few points that leave recovery real work, then crash recovery at each
      // of its own boundaries.
      const dry = await freshDir(path);
      const plan = await child(dry, "run", 0);
      rmSync(dry, { recursive: true, force: true });
      // The saga's record is created by the first funds transaction, so these come after it.
      const marks = ["funds after commit", "after log.write", "orders after insert"];
      const runPoints = marks
        .map((mark) => plan.boundaries.indexOf(mark) + 1)
        .filter((p, i, all) => p > 0 && all.indexOf(p) === i);
      expect(runPoints.length).toBeGreaterThanOrEqual(2);
      let reached = 0;
      let enumerated = 0;
      for (const runPoint of runPoints) {
        const probe = await freshDir(path);
        expect((await child(probe, "run", runPoint)).signal).toBe("SIGKILL");
        const recoveryPlan = await child(probe, "recover", 0);
        rmSync(probe, { recursive: true, force: true });
        expect(recoveryPlan.code, recoveryPlan.stderr).toBe(0);
        const points = recoveryPlan.boundaries.length;
        expect(points, `recovery after run point ${runPoint} did nothing`).toBeGreaterThan(2);
        enumerated += points;
        await pool(points, async (i) => {
          const dir = await freshDir(path);
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
            rmSync(dir, { recursive: true, force: true });
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
