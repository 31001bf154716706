import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import { openSqlite, sqliteSagaLog } from "../../src/adapters/sqlite/index.js";
import { ExitCode } from "../../src/cli/exit-code.js";
import { committed, createRunner, defineSaga } from "../../src/index.js";
import { createRelay } from "../../src/outbox/index.js";
import { json, ROOT, runCli } from "./support/run-cli.js";

let dir: string;
let log: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lockstep-cli-outbox-"));
  const db = openSqlite(join(dir, "log.db"));
  const sagaLog = sqliteSagaLog(db);
  const saga = defineSaga("notify", { input: z.object({}) })
    .step("send", {
      store: createMemoryStore({ id: "mail", tier: "plain" }),
      kind: "pivot",
      output: z.object({ ok: z.boolean() }),
      execute: () => ({ ok: true }),
      probe: () => committed({ ok: true }),
      publish: () => [
        { topic: "mail.sent", message: { n: 1 } },
        { topic: "mail.audit", message: { n: 2 } },
      ],
    })
    .build();
  await createRunner({ log: sagaLog }).run(saga, {}, { sagaId: "n-1" });
  // The first message is delivered; the second fails once and, with one attempt allowed, goes dead.
  let calls = 0;
  await createRelay({
    log: sagaLog,
    retry: { attempts: 1 },
    publisher: {
      name: "TestBroker",
      publish: async () => {
        if (++calls === 2) throw new Error("broker unreachable");
        return undefined;
      },
    },
  }).runOnce();
  db.close();
  log = `sqlite:${join(dir, "log.db")}`;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the outbox in the CLI", () => {
  it("sagas show lists the saga's messages with their delivery status", async () => {
    const run = await runCli(["sagas", "show", "n-1", "--log", log]);
    expect(run.code).toBe(ExitCode.Ok);
    expect(run.stdout).toContain("outbox");
    expect(run.stdout).toMatch(/n-1:send:0\s+mail\.sent\s+delivered\s+1/);
    expect(run.stdout).toMatch(
      /n-1:send:1\s+mail\.audit\s+dead\s+1\s+.*TestBroker did not take outbox message "n-1:send:1"/,
    );
    const shown = json<{ outbox: { messageId: string; status: string }[] }>(
      await runCli(["sagas", "show", "n-1", "--log", log, "--json"]),
    );
    expect(shown.outbox.map((m) => [m.messageId, m.status])).toEqual([
      ["n-1:send:0", "delivered"],
      ["n-1:send:1", "dead"],
    ]);
  });

  it("doctor reports a dead message as a problem", async () => {
    const run = await runCli(["doctor", "--log", log]);
    expect(run.code).toBe(ExitCode.Problems);
    expect(run.stdout).toContain("dead outbox messages");
    expect(run.stdout).toMatch(/n-1:send:1\s+mail\.audit\s+1\s+TestBroker did not take/);
    expect(run.stdout).toContain("1 dead outbox message, 1 problem.");
    const report = json<{ problems: number; deadMessages: { messageId: string }[] }>(
      await runCli(["doctor", "--log", log, "--json"]),
    );
    expect(report.problems).toBe(1);
    expect(report.deadMessages.map((m) => m.messageId)).toEqual(["n-1:send:1"]);
  });
});

describe("lockstep explain: key windows and outbox steps", () => {
  const config = join(ROOT, "test/cli/fixtures/payment-config.ts");

  it("prints each step's key window and where its outbox messages are recorded", async () => {
    const run = await runCli(["explain", "--config", config]);
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    const notes = run.stdout.split("\n").filter((l) => l.startsWith("  note: "));
    expect(
      notes.filter((n) => n.includes('Step "charge"') && n.includes("remembers keys")),
    ).toEqual([
      expect.stringContaining(
        'store "payments", which remembers keys for 86400000 ms from the step\'s first intent',
      ),
    ]);
    expect(notes.filter((n) => n.includes('Step "confirm"'))).toEqual([
      expect.stringContaining(
        "publishes outbox messages, recorded in the same log write that records its commit",
      ),
    ]);
    expect(run.stdout).toContain("<sagaId>:confirm:0");
    expect(run.stdout).toContain("1 saga explained, 0 gaps.");
  });

  it("gives the same in --json: keyWindowMs and the outbox plan per step", async () => {
    const plans = json<{
      plans: { steps: { name: string; keyWindowMs?: number; outbox?: { recorded: string } }[] }[];
    }>(await runCli(["explain", "--config", config, "--json"])).plans;
    expect(plans[0]?.steps.map((s) => [s.name, s.keyWindowMs, s.outbox?.recorded])).toEqual([
      ["charge", 86_400_000, undefined],
      ["confirm", undefined, "with_commit"],
    ]);
  });
});
