import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ExitCode } from "../../src/cli/exit-code.js";
import { stepKey } from "../../src/index.js";
import { openMarketplace } from "./fixtures/marketplace.js";
import { json, ROOT, runCli, type StartedCli, startCli } from "./support/run-cli.js";
import { BALANCES, leaveCrashedCreate } from "./support/seed-marketplace.js";

const CONFIG = join(ROOT, "test/cli/fixtures/marketplace-config.ts");
let dir: string;
let started: StartedCli | undefined;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "lockstep-cli-watch-"));
  const world = await openMarketplace(dir);
  try {
    await world.credits.seed(world.credits.store.handle, BALANCES);
  } finally {
    world.close();
  }
});

afterEach(async () => {
  // Only the process this test started, by its pid, and only if it is still running.
  const child = started?.child;
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    process.kill(child.pid, "SIGKILL");
    await started?.exited;
  }
  started = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Opens the marketplace for as long as `use` takes, then closes it. */
async function withWorld<T>(
  use: (world: Awaited<ReturnType<typeof openMarketplace>>) => Promise<T>,
) {
  const world = await openMarketplace(dir);
  try {
    return await use(world);
  } finally {
    world.close();
  }
}

describe("lockstep recover --watch", () => {
  it("recovers a saga created after it started, and on SIGTERM exits 0 holding no lease", async () => {
    const log = `sqlite:${join(dir, "marketplace.db")}`;
    started = startCli(
      [
        "recover",
        "--watch",
        "--interval",
        "50ms",
        "--max-interval",
        "200ms",
        "--config",
        CONFIG,
        "--log",
        log,
      ],
      { LOCKSTEP_MARKETPLACE_DIR: dir },
    );
    const cli = started;
    await cli.waitFor("Watching the log");
    const sagaId = await withWorld((world) => leaveCrashedCreate(world, true));
    await cli.waitFor(`${sagaId} bounty.create -> compensated`);

    const pid = cli.child.pid as number;
    process.kill(pid, "SIGTERM");
    const run = await cli.exited;
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    expect(run.stdout).toContain("Stopped on SIGTERM");
    expect(run.stdout).toMatch(/recovered 1 saga \(compensated 1\)/);

    await withWorld(async (world) => {
      const records = await world.log.list();
      const recovered = records.find((r) => r.sagaId === sagaId);
      expect(recovered?.status).toBe("compensated");
      const held = records.filter((r) => r.leaseOwner?.startsWith(`lockstep-cli-${pid}-`));
      expect(held, "the stopped worker left a lease held").toEqual([]);
      const reservation = await world.credits.get(
        world.credits.store.handle,
        stepKey(sagaId, "reserve"),
      );
      expect(reservation?.status).toBe("voided");
    });
  }, 120_000);

  it("prints one JSON document once stopped, with --json", async () => {
    const log = `sqlite:${join(dir, "marketplace.db")}`;
    const sagaId = await withWorld((world) => leaveCrashedCreate(world, false));
    started = startCli(
      ["recover", "--watch", "--interval", "50ms", "--config", CONFIG, "--log", log, "--json"],
      { LOCKSTEP_MARKETPLACE_DIR: dir },
    );
    const cli = started;
    // --json keeps standard output for the document; the log says when the saga is done.
    for (;;) {
      const status = await withWorld(
        async (world) => (await world.log.load(sagaId))?.record.status,
      );
      if (status === "compensated") break;
      if (cli.child.exitCode !== null) throw new Error(cli.stderr());
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    process.kill(cli.child.pid as number, "SIGINT");
    const run = await cli.exited;
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    const report = json<{
      watch: boolean;
      stoppedBy: string;
      recovered: number;
      released: number;
      sagas: { sagaId: string; outcome: string }[];
    }>(run);
    expect(report).toMatchObject({ watch: true, stoppedBy: "SIGINT", recovered: 1, released: 0 });
    expect(report.sagas).toEqual([expect.objectContaining({ sagaId, outcome: "compensated" })]);
  }, 120_000);

  it("documents --watch in its help", async () => {
    const run = await runCli(["recover", "--help"]);
    expect(run.code).toBe(ExitCode.Ok);
    expect(run.stdout).toContain("--watch");
    expect(run.stdout).toContain("--interval <duration>");
    expect(run.stdout).toContain("--max-interval <duration>");
    expect(run.stdout).toContain("SIGTERM");
    // The watch mode is a paragraph of its own, not run into the drain mode's.
    expect(run.stdout).toContain("completed or compensated.\n\nWith --watch");
  });

  const mistakes: readonly [string, readonly string[], string][] = [
    ["--interval without --watch", ["recover", "--interval", "1s"], "--interval needs --watch"],
    [
      "an interval longer than a timer can wait",
      ["recover", "--watch", "--interval", "25d"],
      'Expected --interval to be a duration from 1ms to 2147483647ms (about 24.8 days), got "25d"',
    ],
    [
      "a lease longer than a timer can wait",
      ["recover", "--lease-ttl", "30d"],
      'Expected --lease-ttl to be a duration from 1ms to 2147483647ms (about 24.8 days), got "30d"',
    ],
    [
      "a max interval below the interval",
      ["recover", "--watch", "--interval", "10s", "--max-interval", "1s"],
      'Expected --max-interval to be at least --interval (10s), got "1s"',
    ],
    [
      "a probe deadline longer than a timer can wait",
      ["doctor", "--timeout", "30d", "--log", "sqlite:x.db"],
      'Expected --timeout to be a duration from 1ms to 2147483647ms (about 24.8 days), got "30d"',
    ],
  ];
  for (const [name, args, message] of mistakes) {
    it(`refuses ${name} as a usage error`, async () => {
      const run = await runCli(args);
      expect(run.code, run.stderr).toBe(ExitCode.Usage);
      expect(run.stderr).toContain(message);
    });
  }
  it("covers 5 mistakes", () => {
    expect(mistakes).toHaveLength(5);
  });
});
