import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { ExitCode } from "../../src/cli/exit-code.js";
import type { SagaPlan } from "../../src/index.js";
import { openMarketplace } from "./fixtures/marketplace.js";
import { json, ROOT, runCli } from "./support/run-cli.js";

let dir: string;
const CONFIG = join(ROOT, "test/cli/fixtures/marketplace-config.ts");
const env = () => ({ LOCKSTEP_MARKETPLACE_DIR: dir });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lockstep-cli-explain-"));
  (await openMarketplace(dir)).close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.concurrent("lockstep explain", () => {
  it("prints a plan for each of the 5 bounty sagas and the gapped audit saga, with co-commit groups and gaps", async ({
    expect,
  }) => {
    const run = await runCli(["explain", "--config", CONFIG], env());
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    const headers = run.stdout.split("\n").filter((l) => l.startsWith("saga "));
    expect(headers.map((h) => h.split(" ")[1])).toEqual([
      "bounty.create",
      "bounty.claim",
      "bounty.settle",
      "bounty.expire",
      "bounty.cancel",
      "ledger.audit",
    ]);
    expect(run.stdout).toMatch(/open\s+pivot\s+sqlite:\S+marketplace\.db\s+co-committed\s+none/);
    expect(run.stdout).toMatch(
      /reserve\s+compensatable\s+sqlite:\S+ledger\.db\s+saga\s+until probed/,
    );
    // Declared idempotent, the bounty sagas' void steps are re-executed by key without a gap.
    expect(run.stdout).toMatch(
      /void\s+retriable\s+sqlite:\S+ledger\.db\s+saga\s+re-executed by key\s+-$/m,
    );
    expect(run.stdout).toMatch(
      /append\s+retriable\s+sqlite:\S+ledger\.db\s+saga\s+re-executed by key\s+no_probe/,
    );
    expect(run.stdout).toContain(
      'tx 2: "complete", "settle", "closeClaim" commit in one transaction with their log records.',
    );
    expect(run.stdout).toContain("6 sagas explained, 1 gap");
  });

  it("--strict exits 1 when a saga has a gap, and 0 for sagas without", async ({ expect }) => {
    const strict = await runCli(["explain", "--config", CONFIG, "--strict"], env());
    expect(strict.code).toBe(ExitCode.Problems);
    const clean = await runCli(
      [
        "explain",
        "--config",
        CONFIG,
        "--strict",
        "--saga",
        "bounty.create",
        "--saga",
        "bounty.settle",
      ],
      env(),
    );
    expect(clean.code, clean.stderr).toBe(ExitCode.Ok);
    expect(clean.stdout).toContain("2 sagas explained, 0 gaps.");
  });

  it("prints the plans as JSON", async ({ expect }) => {
    const out = json<{ sagas: number; gaps: number; plans: SagaPlan[] }>(
      await runCli(["explain", "--config", CONFIG, "--json"], env()),
    );
    expect(out.sagas).toBe(6);
    expect(out.gaps).toBe(1);
    expect(out.plans[1]?.transactions).toEqual([["claim", "mark"]]);
  });

  it("refuses a --saga the config does not have, naming it", async ({ expect }) => {
    const run = await runCli(["explain", "--config", CONFIG, "--saga", "bounty.steal"], env());
    expect(run.code).toBe(ExitCode.Usage);
    expect(run.stderr).toContain('got "bounty.steal"');
  });
});

describe.concurrent("config modules", () => {
  it("takes a JavaScript module whose default export is an async function", async ({ expect }) => {
    const path = join(dir, "factory-config.mjs");
    writeFileSync(
      path,
      [
        `import { openMarketplace } from ${JSON.stringify(join(ROOT, "test/cli/fixtures/marketplace.ts"))};`,
        "export default async () => {",
        `  const world = await openMarketplace(${JSON.stringify(dir)});`,
        "  return { sagas: [world.sagas.create], close: () => world.close() };",
        "};",
      ].join("\n"),
    );
    const run = await runCli(["explain", "--config", path, "--json"]);
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    const out = json<{ plans: SagaPlan[] }>(run);
    expect(out.plans.map((p) => p.saga)).toEqual(["bounty.create"]);
    // No log was given or exported, so nothing can be planned as co-committed, and the plan says so.
    expect(out.plans[0]?.steps.map((s) => s.strategy)).toEqual(["saga", "saga"]);
    expect(out.plans[0]?.notes[0]).toContain("No saga log was given");
  });

  it("refuses a `sagas` export that holds something other than sagas", async ({ expect }) => {
    const path = join(dir, "bad-sagas.mjs");
    writeFileSync(path, 'export const sagas = [{ name: "x" }];\n');
    const run = await runCli(["explain", "--config", path]);
    expect(run.code).toBe(ExitCode.Failure);
    expect(run.stderr).toContain("`sagas` entry 1 that is not a saga built by defineSaga");
  });
});
