import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqlite, sqliteSagaLog } from "../../src/adapters/sqlite/index.js";
import { ExitCode } from "../../src/cli/exit-code.js";
import type { OperatorEvent } from "../../src/index.js";
import { SagaStatus } from "../../src/model/records.js";
import { sagaRecord } from "../conformance/saga-log.js";
import { json, ROOT, runCli } from "./support/run-cli.js";

let dir: string;
let log: string;
const HOUR = 3_600_000;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lockstep-cli-events-"));
  const db = openSqlite(join(dir, "log.db"));
  const sagaLog = sqliteSagaLog(db);
  const old = Date.now() - 2 * HOUR;
  const ended = (sagaId: string, lease: number | null) =>
    sagaRecord(sagaId, {
      status: SagaStatus.Completed,
      createdAt: old,
      updatedAt: old,
      leaseOwner: lease === null ? null : "runner-finishing",
      leaseExpiresAt: lease,
    });
  await sagaLog.create(ended("done-1", null));
  await sagaLog.create(ended("done-2", null));
  // Finished, but its runner still holds its lease: prune leaves it.
  await sagaLog.create(ended("finishing", Date.now() + HOUR));
  db.close();
  log = `sqlite:${join(dir, "log.db")}`;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("lockstep prune and lockstep events", () => {
  it("prune records who pruned what as an operator event, leaving a saga whose lease is held", async () => {
    const empty = await runCli(["events", "--log", log]);
    expect(empty.code, empty.stderr).toBe(ExitCode.Ok);
    expect(empty.stdout.trim()).toBe("No operator event is recorded in this log.");

    const run = await runCli([
      "prune",
      "--older-than",
      "1h",
      "--log",
      log,
      "--actor",
      "gus",
      "--note",
      "disk space",
    ]);
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    expect(run.stdout).toMatch(
      /^Pruned 2 sagas \(completed, compensated\) last updated before .+\. Left 1 saga whose lease a runner holds\. Recorded as operator event [0-9a-f-]{36} by gus\.$/m,
    );

    const listed = json<{ count: number; events: OperatorEvent[] }>(
      await runCli(["events", "--log", log, "--json"]),
    );
    expect(listed.count).toBe(1);
    expect(listed.events[0]).toMatchObject({
      actor: "gus",
      action: "prune",
      note: "disk space",
      changed: 2,
      skipped: 1,
      sagaIds: ["done-1", "done-2"],
    });
    expect(run.stdout).toContain(listed.events[0]?.eventId);
    const table = await runCli(["events", "--log", log]);
    expect(table.stdout).toMatch(
      /gus\s+prune\s+before .+ \(completed, compensated\)\s+2\s+1\s+disk space/,
    );
    expect(table.stdout).toContain("1 event.");

    const again = json<{ pruned: number; skipped: number; eventId: string }>(
      await runCli(["prune", "--older-than", "1h", "--log", log, "--json"]),
    );
    expect([again.pruned, again.skipped]).toEqual([0, 1]);
    const both = json<{ events: OperatorEvent[] }>(
      await runCli(["events", "--log", log, "--json"]),
    );
    expect(both.events.map((e) => e.eventId)).toEqual([again.eventId, listed.events[0]?.eventId]);
  });

  it("on a log that keeps no operator events, prune says it was not recorded and events refuses", async () => {
    const config = join(ROOT, "test/cli/fixtures/plain-log-config.ts");
    const pruned = await runCli(["prune", "--older-than", "1h", "--config", config]);
    expect(pruned.code, pruned.stderr).toBe(ExitCode.Ok);
    expect(pruned.stdout).toMatch(
      /^Pruned 0 sagas .+ Not recorded: this log keeps no operator events\.$/m,
    );
    const events = await runCli(["events", "--config", config]);
    expect(events.code).toBe(ExitCode.Failure);
    expect(events.stderr).toContain("This log keeps no operator events");
  });
});
