import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { child, freshDir, type Path, pool, recoverAndCheck, removeDir } from "./sigkill-support.js";

const CHILD = fileURLToPath(new URL("./child.ts", import.meta.url));
const runChild = (dir: string, phase: "run" | "recover", crashAt: number) =>
  child([process.execPath, "--import", "tsx", CHILD], dir, phase, crashAt);

/** Where the saga log lives: in main.db beside the funds, or in a MySQL database of its own. */
type LogKind = "sqlite" | "mysql";

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
        const plan = await runChild(dry, "run", 0);
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
            const run = await runChild(dir, "run", point);
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
        const plan = await runChild(dry, "run", 0);
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
          expect((await runChild(probe, "run", runPoint)).signal).toBe("SIGKILL");
          const recoveryPlan = await runChild(probe, "recover", 0);
          await removeDir(probe);
          expect(recoveryPlan.code, recoveryPlan.stderr).toBe(0);
          const points = recoveryPlan.boundaries.length;
          expect(points, `recovery after run point ${runPoint} did nothing`).toBeGreaterThan(2);
          enumerated += points;
          await pool(points, async (i) => {
            const dir = await freshDir(path, logKind);
            try {
              expect((await runChild(dir, "run", runPoint)).signal).toBe("SIGKILL");
              const recovery = await runChild(dir, "recover", i + 1);
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
