import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
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
        // It ends with one saga's story, told by `lockstep sagas show`…
        const story = /\$ npx lockstep sagas show (\S+) --log sqlite:\S+marketplace\.db\n/.exec(
          run.stdout,
        );
        expect(story, run.stdout).not.toBeNull();
        expect(run.stdout).toContain(`saga      ${story?.[1]}`);
        expect(run.stdout).toMatch(/\ntimeline\n\s+SEQ\s+AT/);
        // A saga recovery took over and finished, or one that was undone.
        expect(run.stdout).toMatch(
          /one saga's story: \S+ \([\w.]+, (completed, taken over \d+ time\(s\)|compensated)/,
        );
        // …and `lockstep doctor` on a crash it left: the step landed, its outcome was never logged.
        const doctor = run.stdout.slice(run.stdout.indexOf("npx lockstep doctor"));
        expect(doctor).toMatch(
          /^npx lockstep doctor bounty-crashed-after-reserve --config examples\/demo\/lockstep\.config\.ts\n/,
        );
        expect(doctor).toContain(
          "bounty-crashed-after-reserve  bounty.create v1  running  [problem]",
        );
        expect(doctor).toMatch(/reserve\s+compensatable\s+unknown\s+committed\s+committed/);
        expect(doctor).toContain(
          'Step "reserve" has no known outcome (attempt 1); its probe says it committed.',
        );
        expect(doctor).toContain("Recovery will compensate it");
        expect(doctor).toContain("1 saga diagnosed, 1 problem.");
        expect(doctor).toContain("npx lockstep recover --config examples/demo/lockstep.config.ts");
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
    const unknown = demo(["--agnets", "3"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("--agnets");
    expect(unknown.stderr).toContain("Run with --help for usage.");
  });

  it("answers --help with its options and exit codes, and writes nothing", () => {
    const base = mkdtempSync(join(tmpdir(), "lockstep-demo-help-"));
    try {
      const dir = join(base, "files");
      for (const flag of ["--help", "-h"]) {
        const run = demo([flag, "--dir", dir]);
        expect(run.status, run.stderr).toBe(0);
        expect(run.stdout).toMatch(/^Usage: npm run demo -- /);
        for (const option of ["--seed", "--agents", "--bounties", "--fault-rate", "--dir"]) {
          expect(run.stdout).toContain(option);
        }
        expect(run.stdout).toContain("Exit codes: 0 every invariant holds");
        expect(run.stderr).toBe("");
        expect(existsSync(dir), "--help created the demo's files").toBe(false);
      }
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
