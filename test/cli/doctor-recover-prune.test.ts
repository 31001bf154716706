import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../src/cli/exit-code.js";
import { stepKey } from "../../src/index.js";
import type { SagaDiagnosis } from "../../src/observability/diagnosis.js";
import { openMarketplace } from "./fixtures/marketplace.js";
import { json, ROOT, runCli } from "./support/run-cli.js";
import { type SeededSagas, seedMarketplace } from "./support/seed-marketplace.js";

let dir: string;
let log: string;
let seeded: SeededSagas;
const CONFIG = join(ROOT, "test/cli/fixtures/marketplace-config.ts");
const env = () => ({ LOCKSTEP_MARKETPLACE_DIR: dir });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lockstep-cli-doctor-"));
  seeded = await seedMarketplace(dir);
  log = `sqlite:${join(dir, "marketplace.db")}`;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The log's records and alice's reservation for the crashed saga: what doctor must not change. */
async function state() {
  const world = await openMarketplace(dir);
  try {
    const records = await world.log.list();
    const reservation = await world.credits.get(
      world.credits.store.handle,
      stepKey(seeded.crashedAfterReserve, "reserve"),
    );
    return { records: JSON.stringify(records), reservation };
  } finally {
    world.close();
  }
}

describe("lockstep doctor, then recover, then prune, on one marketplace", () => {
  it("doctor probes the crashed sagas against the ledger, predicts recovery, and changes nothing", async () => {
    const before = await state();
    expect(before.reservation?.status).toBe("held");
    const run = await runCli(["doctor", "--config", CONFIG, "--log", log, "--json"], env());
    expect(run.code, run.stderr).toBe(ExitCode.Problems);
    const report = json<{ diagnosed: number; problems: number; sagas: SagaDiagnosis[] }>(run);
    expect(report.diagnosed).toBe(3);
    expect(report.problems).toBe(3);
    const byId = new Map(report.sagas.map((d) => [d.sagaId, d]));
    const after = byId.get(seeded.crashedAfterReserve);
    expect(after?.steps[0]?.probe).toBe("committed");
    expect(after?.action).toBe("compensate");
    expect(after?.actionSteps).toEqual(["reserve"]);
    const beforeReserve = byId.get(seeded.crashedBeforeReserve);
    expect(beforeReserve?.steps[0]?.probe).toBe("not_committed");
    expect(beforeReserve?.action).toBe("compensate");
    expect(beforeReserve?.actionSteps).toEqual([]);
    expect(byId.get(seeded.needsAttention)?.action).toBe("leave_alone");
    expect(await state(), "doctor changed the log or the ledger").toEqual(before);
  });

  it("doctor prints what is true and what recovery will do, per saga", async () => {
    const run = await runCli(["doctor", seeded.crashedAfterReserve, "--config", CONFIG], env());
    expect(run.code, run.stderr).toBe(ExitCode.Problems);
    expect(run.stdout).toContain(
      `${seeded.crashedAfterReserve}  bounty.create v1  running  [problem]`,
    );
    expect(run.stdout).toContain(
      'Step "reserve" has no known outcome (attempt 1); its probe says it committed.',
    );
    expect(run.stdout).toContain('Recovery will compensate it: undo "reserve" behind its guard.');
    expect(run.stdout).toContain("1 saga diagnosed, 1 problem.");
  });

  it("doctor without a config reports from the log alone", async () => {
    const run = await runCli(["doctor", "--log", log]);
    expect(run.code).toBe(ExitCode.Problems);
    expect(run.stdout).toContain("No --config: steps are not probed");
    expect(run.stdout).toContain("cannot be probed, nor recovery predicted");
  });

  it("recover with 2 workers compensates both crashed sagas and releases the reservation", async () => {
    const run = await runCli(
      ["recover", "--workers", "2", "--config", CONFIG, "--log", log],
      env(),
    );
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    const progress = run.stdout.split("\n").filter((l) => l.startsWith("[worker "));
    expect(progress).toHaveLength(2);
    for (const id of [seeded.crashedAfterReserve, seeded.crashedBeforeReserve]) {
      expect(progress.some((l) => l.includes(id) && l.endsWith("-> compensated"))).toBe(true);
    }
    expect(run.stdout).toContain("Recovered 2 sagas with 2 workers: compensated 2.");
    expect((await state()).reservation?.status).toBe("voided");
  });

  it("recover again finds nothing, and doctor is left with the saga that needs a person", async () => {
    const again = await runCli(["recover", "--config", CONFIG, "--json"], env());
    expect(again.code, again.stderr).toBe(ExitCode.Ok);
    expect(json(again)).toMatchObject({ recovered: 0, sagas: [] });
    const doctor = json<{ sagas: SagaDiagnosis[] }>(
      await runCli(["doctor", "--config", CONFIG, "--json"], env()),
    );
    expect(doctor.sagas.map((d) => [d.sagaId, d.action])).toEqual([
      [seeded.needsAttention, "leave_alone"],
    ]);
  });

  it("prune keeps recent sagas, then deletes the finished ones older than the duration", async () => {
    const kept = await runCli(["prune", "--older-than", "1h", "--log", log]);
    expect(kept.code, kept.stderr).toBe(ExitCode.Ok);
    expect(kept.stdout).toMatch(/^Pruned 0 sagas \(completed, compensated\) last updated before /);
    const pruned = json<{ pruned: number }>(
      await runCli(["prune", "--older-than", "0ms", "--log", log, "--json"]),
    );
    // Two completed, one refused and two recovered by compensation; the saga needing a person stays.
    expect(pruned.pruned).toBe(5);
    const left = json<{ sagas: { sagaId: string }[] }>(
      await runCli(["sagas", "list", "--log", log, "--json"]),
    );
    expect(left.sagas.map((s) => s.sagaId)).toEqual([seeded.needsAttention]);
    const refused = await runCli([
      "prune",
      "--older-than",
      "0ms",
      "--log",
      log,
      "--status",
      "running",
    ]);
    expect(refused.code).toBe(ExitCode.Usage);
    expect(refused.stderr).toContain('got "running"');
    const evidence = json<{ pruned: number }>(
      await runCli([
        "prune",
        "--older-than",
        "0ms",
        "--log",
        log,
        "--status",
        "needs_attention",
        "--json",
      ]),
    );
    expect(evidence.pruned).toBe(1);
  });
});
