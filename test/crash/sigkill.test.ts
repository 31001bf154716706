import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { child, freshDir, pool, recoverAndCheck } from "./sigkill-support.js";

const CHILD = fileURLToPath(new URL("./child.ts", import.meta.url));
const runChild = (dir: string, phase: "run" | "recover", crashAt: number) =>
  child([process.execPath, "--import", "tsx", CHILD], dir, phase, crashAt);

describe("SIGKILL at every crash point, then recovery in a fresh process", () => {
  for (const path of ["happy", "compensating"] as const) {
    it(`the ${path} path: every boundary of the run is reached, and recovery converges`, async () => {
      const dry = await freshDir(path);
      const plan = await runChild(dry, "run", 0);
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
      const plan = await runChild(dry, "run", 0);
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
        expect((await runChild(probe, "run", runPoint)).signal).toBe("SIGKILL");
        const recoveryPlan = await runChild(probe, "recover", 0);
        rmSync(probe, { recursive: true, force: true });
        expect(recoveryPlan.code, recoveryPlan.stderr).toBe(0);
        const points = recoveryPlan.boundaries.length;
        expect(points, `recovery after run point ${runPoint} did nothing`).toBeGreaterThan(2);
        enumerated += points;
        await pool(points, async (i) => {
          const dir = await freshDir(path);
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
