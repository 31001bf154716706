import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { postgresSagaLog } from "../../src/adapters/postgres/index.js";
import { openSqlite, sqliteSagaLog } from "../../src/adapters/sqlite/index.js";
import { ExitCode } from "../../src/cli/exit-code.js";
import type { SagaLog, SagaRecord } from "../../src/index.js";
import { SagaStatus } from "../../src/model/records.js";
import { openSchema, PG_URL, type TestSchema } from "../adapters/postgres/pg-test.js";
import { sagaRecord } from "../conformance/saga-log.js";
import { json, runCli } from "./support/run-cli.js";

/**
 * Request-derived saga ids (as the README recommends) say nothing about time. `sagas list` must
 * show the newest sagas first, by time, and its default limit must keep the newest, not the
 * highest ids.
 */

const T0 = 1_800_000_000_000;
const COUNT = 60;
/** `order-000` is created last, `order-059` first: id order is the reverse of time order. */
const idOf = (age: number) => `order-${String(age).padStart(3, "0")}`;
/** The oldest saga, changed after every other one. */
const REVIVED = idOf(COUNT - 1);

async function fill(log: SagaLog): Promise<void> {
  for (let age = COUNT - 1; age >= 0; age--) {
    const createdAt = T0 + (COUNT - age) * 1_000;
    await log.create(
      sagaRecord(idOf(age), {
        status: SagaStatus.Completed,
        leaseOwner: null,
        leaseExpiresAt: null,
        createdAt,
        updatedAt: age === COUNT - 1 ? T0 + 10 * COUNT * 1_000 : createdAt,
      }),
    );
  }
}

/** The ids a `--json` run listed, and its order. */
async function listed(args: readonly string[]): Promise<{ order: string; ids: string[] }> {
  const run = await runCli(["sagas", "list", ...args, "--json"]);
  const out = json<{ order: string; sagas: SagaRecord[] }>(run);
  return { order: out.order, ids: out.sagas.map((s) => s.sagaId) };
}

/** The newest `n` by creation: order-000, order-001, … */
const newestCreated = (n: number) => Array.from({ length: n }, (_, age) => idOf(age));

let dir: string;
let sqlite: string;
let pg: TestSchema;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lockstep-cli-order-"));
  const path = join(dir, "app.db");
  const db = openSqlite(path);
  await fill(sqliteSagaLog(db));
  db.close();
  sqlite = `sqlite:${path}`;
  pg = await openSchema();
  await fill(postgresSagaLog(pg.pool, { schema: pg.schema }));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await pg?.close();
});

describe.concurrent("lockstep sagas list orders by time, newest first", () => {
  const logs = () =>
    [
      ["SQLite", [`--log`, sqlite]],
      ["Postgres", ["--log", PG_URL, "--schema", pg.schema]],
    ] as const;

  it("shows, by default, the sagas that changed last, within the default limit of 50", async ({
    expect,
  }) => {
    for (const [kind, log] of logs()) {
      const { order, ids } = await listed(log);
      expect(order, kind).toBe("updated");
      expect(ids, kind).toEqual([REVIVED, ...newestCreated(49)]);
    }
  });

  it("shows the sagas started last with --order created", async ({ expect }) => {
    for (const [kind, log] of logs()) {
      const { order, ids } = await listed([...log, "--order", "created"]);
      expect(order, kind).toBe("created");
      expect(ids, kind).toEqual(newestCreated(50));
      const few = await listed([...log, "--order", "created", "--limit", "3"]);
      expect(few.ids, kind).toEqual(["order-000", "order-001", "order-002"]);
    }
  });

  it("labels the time column by the order, and shows the newest on top", async ({ expect }) => {
    const updated = await runCli(["sagas", "list", "--log", sqlite, "--limit", "2"]);
    expect(updated.code, updated.stderr).toBe(ExitCode.Ok);
    const [header, first, second] = updated.stdout.split("\n");
    expect(header).toMatch(/^ID\s+SAGA\s+V\s+STATUS\s+UPDATED\s+LEASE/);
    expect(first?.startsWith(`${REVIVED} `)).toBe(true);
    expect(second?.startsWith("order-000 ")).toBe(true);
    expect(first).toContain(new Date(T0 + 10 * COUNT * 1_000).toISOString());
    const created = await runCli(["sagas", "list", "--log", sqlite, "--order", "created"]);
    expect(created.code, created.stderr).toBe(ExitCode.Ok);
    expect(created.stdout).toMatch(/^ID\s+SAGA\s+V\s+STATUS\s+CREATED\s+LEASE/);
    expect(created.stdout.split("\n")[1]?.startsWith("order-000 ")).toBe(true);
    expect(created.stdout).toContain("50 sagas (the newest 50; raise --limit for more).");
  });

  it("refuses an unknown --order, naming it", async ({ expect }) => {
    const run = await runCli(["sagas", "list", "--log", sqlite, "--order", "id"]);
    expect(run.code).toBe(ExitCode.Usage);
    expect(run.stderr).toContain('Expected --order to be one of created, updated, got "id".');
  });
});
