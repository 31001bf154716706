import { rmSync } from "node:fs";
import process from "node:process";
import { describe, expect, it } from "vitest";
import { child, freshDir, pool, recoverAndCheck } from "../crash/sigkill-support.js";
import { commandFor, type Runtime } from "./matrix-command.js";

// The matrix program is its own child: run again with LOCKSTEP_MATRIX_CHILD set, it is child.ts.
const runtime = (process.env.LOCKSTEP_MATRIX_RUNTIME ?? "node") as Runtime;
const command = commandFor(runtime, process.argv[1] as string, process.execPath);
const runChild = (dir: string, phase: "run" | "recover", crashAt: number) => {
  process.env.LOCKSTEP_MATRIX_CHILD = "1";
  try {
    return child(command, dir, phase, crashAt);
  } finally {
    delete process.env.LOCKSTEP_MATRIX_CHILD;
  }
};

describe("SIGKILL at every crash point of the happy path, then recovery in a fresh process", () => {
  it("every boundary of the run is reached, and recovery converges", async () => {
    const dry = await freshDir("happy");
    const plan = await runChild(dry, "run", 0);
    rmSync(dry, { recursive: true, force: true });
    expect(plan.code, plan.stderr).toBe(0);
    const total = plan.boundaries.length;
    // As in sigkill.test.ts: the exact count guards the enumeration itself.
    expect(total, plan.boundaries.join("\n")).toBe(22);
    const states = await pool(total, async (i) => {
      const dir = await freshDir("happy");
      try {
        const run = await runChild(dir, "run", i + 1);
        const label = `run crash point ${i + 1} (${plan.boundaries[i]})`;
        expect(run.signal, `${label} was not reached: ${run.stderr}`).toBe("SIGKILL");
        return await recoverAndCheck(dir, "happy", label);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
    console.log(
      `[matrix] SIGKILL on ${runtime}: ${total} crash points reached; ${states.filter((s) => s === "all").length} all, ${states.filter((s) => s === "nothing").length} nothing`,
    );
    expect(states).toHaveLength(total);
    expect(states).toContain("all");
    expect(states).toContain("nothing");
  }, 60_000);
});
