import process from "node:process";
import { describe, expect, it } from "vitest";
import { child, freshDir, pool, recoverAndCheck, removeDir } from "../crash/sigkill-support.js";
import { commandFor, type Runtime } from "./matrix-command.js";

// The child is its own small bundle (matrix-build.ts's buildCrashChild), run by this runtime.
const runtime = (process.env.LOCKSTEP_MATRIX_RUNTIME ?? "node") as Runtime;
const program = process.env.LOCKSTEP_MATRIX_CHILD_PROGRAM;
// Deno loads no SQLite binding lockstep can use (better-sqlite3 is a V8 addon; node:sqlite is not a
// driver the engine has), so there the world is the Postgres log and two Postgres schemas.
const world = runtime === "deno" ? "postgres" : "sqlite";

describe("SIGKILL at every crash point of the happy path, then recovery in a fresh process", () => {
  it(`every boundary of the run is reached, and recovery converges (${world})`, async () => {
    if (program === undefined) throw new Error("LOCKSTEP_MATRIX_CHILD_PROGRAM is not set.");
    const command = commandFor(runtime, program, process.execPath);
    const dry = await freshDir("happy", world);
    const plan = await child(command, dry, "run", 0).finally(() => removeDir(dry));
    expect(plan.code, plan.stderr).toBe(0);
    const total = plan.boundaries.length;
    // As in sigkill.test.ts: the exact count guards the enumeration itself.
    expect(total, plan.boundaries.join("\n")).toBe(22);
    const states = await pool(total, async (i) => {
      const dir = await freshDir("happy", world);
      try {
        const run = await child(command, dir, "run", i + 1);
        const label = `run crash point ${i + 1} (${plan.boundaries[i]})`;
        expect(run.signal, `${label} was not reached: ${run.stderr}`).toBe("SIGKILL");
        return await recoverAndCheck(dir, "happy", label);
      } finally {
        await removeDir(dir);
      }
    });
    console.log(
      `[matrix] SIGKILL on ${runtime} (${world}): ${total} crash points reached; ${states.filter((s) => s === "all").length} all, ${states.filter((s) => s === "nothing").length} nothing`,
    );
    expect(states).toHaveLength(total);
    expect(states).toContain("all");
    expect(states).toContain("nothing");
  }, 60_000);
});
