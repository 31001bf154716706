import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const SEEDS = [1, 2, 3, 42];

function demo(args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", "examples/demo/main.ts", ...args], {
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, TSX_TSCONFIG_PATH: "tsconfig.json" },
  });
}

describe("the demo", () => {
  it.each(SEEDS)(
    "runs the marketplace under faults with seed %i, recovers, and every invariant holds",
    (seed) => {
      const dir = mkdtempSync(join(tmpdir(), "lockstep-demo-"));
      try {
        const run = demo([
          "--seed",
          String(seed),
          "--agents",
          "5",
          "--bounties",
          "15",
          "--fault-rate",
          "0.25",
          "--dir",
          dir,
        ]);
        expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
        expect(run.stdout).toContain("every invariant holds");
        expect(run.stdout).toMatch(/faults injected[\s\S]*crash|fail-before|fail-after/);
        for (const code of ["I1", "I2", "I3", "I4", "I5", "I6", "I7", "conservation"]) {
          expect(run.stdout).toMatch(new RegExp(`ok\\s+${code}\\b`));
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it("ran every seed", () => expect(SEEDS).toHaveLength(4));

  it("refuses bad options with a clear message and exit code 2", () => {
    const run = demo(["--agents", "1"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("--agents must be at least 2");
  });
});
