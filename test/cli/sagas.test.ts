import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { ExitCode } from "../../src/cli/exit-code.js";
import type { SagaRecord } from "../../src/index.js";
import type { SagaTimeline } from "../../src/observability/saga-timeline.js";
import { openMarketplace } from "./fixtures/marketplace.js";
import { json, runCli } from "./support/run-cli.js";
import { type SeededSagas, seedMarketplace } from "./support/seed-marketplace.js";

let dir: string;
let log: string;
let seeded: SeededSagas;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lockstep-cli-sagas-"));
  seeded = await seedMarketplace(dir);
  log = `sqlite:${join(dir, "marketplace.db")}`;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `ids` as `sagas list` must order them: last updated first, equal times by id, descending. */
async function byLastUpdate(ids: readonly string[]): Promise<string[]> {
  const world = await openMarketplace(dir);
  try {
    const updated = new Map<string, number>();
    for (const id of ids) updated.set(id, (await world.log.load(id))?.record.updatedAt ?? 0);
    const time = (id: string) => updated.get(id) ?? 0;
    return [...ids].sort((a, b) => time(b) - time(a) || (a < b ? 1 : -1));
  } finally {
    world.close();
  }
}

describe.concurrent("lockstep sagas list", () => {
  it("lists every saga newest first in a table", async ({ expect }) => {
    const run = await runCli(["sagas", "list", "--log", log]);
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    const lines = run.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^ID\s+SAGA\s+V\s+STATUS\s+UPDATED\s+LEASE\s+TOKEN\s+ATTENTION$/);
    expect(lines).toHaveLength(1 + 6 + 1);
    expect(lines[7]).toBe("6 sagas.");
    const ids = lines.slice(1, 7).map((line) => line.split(/\s+/)[0]);
    // Newest first by last update (ties by id, descending): the crashes were written backdated.
    expect(ids).toEqual(await byLastUpdate(Object.values(seeded)));
    expect(run.stdout).toMatch(/runner-that-died until \S+ \(lapsed\)/);
    expect(run.stdout).toContain("escalated at close");
  });

  it("filters by status (repeated or comma-separated) and by name", async ({ expect }) => {
    const running = json<{ count: number; sagas: SagaRecord[] }>(
      await runCli(["sagas", "list", "--log", log, "--status", "running", "--json"]),
    );
    expect(running.count).toBe(2);
    expect(running.sagas.map((s) => s.sagaId).sort()).toEqual(
      [seeded.crashedAfterReserve, seeded.crashedBeforeReserve].sort(),
    );
    const finished = json<{ count: number }>(
      await runCli(["sagas", "list", "--log", log, "--status", "completed,compensated", "--json"]),
    );
    expect(finished.count).toBe(3);
    const claims = json<{ count: number; sagas: SagaRecord[] }>(
      await runCli(["sagas", "list", "--log", log, "--name", "bounty.claim", "--json"]),
    );
    expect(claims.sagas.map((s) => s.sagaId)).toEqual([seeded.claimed]);
  });

  it("stops at --limit and says so", async ({ expect }) => {
    const run = await runCli(["sagas", "list", "--log", log, "--limit", "2"]);
    expect(run.code).toBe(ExitCode.Ok);
    expect(run.stdout).toContain("2 sagas (the newest 2; raise --limit for more).");
  });

  it("says when nothing matches", async ({ expect }) => {
    const run = await runCli(["sagas", "list", "--log", log, "--name", "bounty.none"]);
    expect(run.code).toBe(ExitCode.Ok);
    expect(run.stdout.trim()).toBe("No sagas match.");
  });
});

describe.concurrent("lockstep sagas show", () => {
  it("shows the timeline of a compensated saga: intent, refusal, null compensation", async ({
    expect,
  }) => {
    const run = await runCli(["sagas", "show", seeded.refused, "--log", log]);
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    expect(run.stdout).toContain(`saga      ${seeded.refused}`);
    expect(run.stdout).toContain("status    compensated");
    expect(run.stdout).toContain("lease     free, fencing token 1");
    const timeline = run.stdout.split("timeline\n")[1] ?? "";
    const events = timeline
      .trim()
      .split("\n")
      .slice(1)
      .map((line) => line.trim().split(/\s+/)[5]);
    expect(events).toEqual(["intent", "not_committed", "compensation_skipped"]);
    expect(timeline).toContain("bob does not have 10000 credits available");
  });

  it("shows a crashed saga's lapsed lease and its step left unknown", async ({ expect }) => {
    const run = await runCli(["sagas", "show", seeded.crashedAfterReserve, "--log", log]);
    expect(run.code).toBe(ExitCode.Ok);
    expect(run.stdout).toMatch(/lease {5}runner-that-died until \S+, fencing token 1/);
    expect(run.stdout).toMatch(/reserve\s+compensatable\s+\S+ledger\.db\s+unknown\s+1/);
  });

  it("shows why a saga needs attention", async ({ expect }) => {
    const run = await runCli(["sagas", "show", seeded.needsAttention, "--log", log]);
    expect(run.stdout).toContain(
      'attention escalated at step "close": bounty bounty-gone was deleted by hand',
    );
  });

  it("draws a lane per step, a column per log entry", async ({ expect }) => {
    const run = await runCli(["sagas", "show", seeded.completed, "--log", log]);
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    const lanes = (run.stdout.split("lanes (one column per log entry, in order)\n")[1] ?? "")
      .split("\n")
      .slice(0, 3);
    expect(lanes).toEqual(["  tokens   1", "  reserve  ▶─✔", "  open         ✔"]);
  });

  it("prints the whole timeline as JSON", async ({ expect }) => {
    const t = json<SagaTimeline>(
      await runCli(["sagas", "show", seeded.completed, "--log", log, "--json"]),
    );
    expect(t.sagaId).toBe(seeded.completed);
    expect(t.status).toBe("completed");
    expect(t.steps.map((s) => [s.name, s.status, s.via])).toEqual([
      ["reserve", "committed", "execute"],
      ["open", "committed", "co_commit"],
    ]);
    // The co-committed step has no intent: its outcome committed with its writes.
    expect(t.entries.map((e) => e.type)).toEqual(["intent", "committed", "committed"]);
  });

  it("fails with exit 3 for an id the log does not have", async ({ expect }) => {
    const run = await runCli(["sagas", "show", "01NOPE", "--log", log]);
    expect(run.code).toBe(ExitCode.Failure);
    expect(run.stderr).toContain('No saga with id "01NOPE" is in the log.');
  });
});
