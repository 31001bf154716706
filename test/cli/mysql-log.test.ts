import { afterAll, beforeAll, describe, it } from "vitest";
import { mysqlSagaLog } from "../../src/adapters/mysql/index.js";
import { ExitCode } from "../../src/cli/exit-code.js";
import { createRunner, type SagaRecord } from "../../src/index.js";
import type { SagaTimeline } from "../../src/observability/saga-timeline.js";
import { MYSQL_URL, openDatabase, type TestDatabase } from "../adapters/mysql/mysql-test.js";
import { orderWorld } from "../observability/support/order-world.js";
import { json, runCli } from "./support/run-cli.js";

let db: TestDatabase;
const ids: string[] = [];

beforeAll(async () => {
  db = await openDatabase();
  const log = mysqlSagaLog(db.pool);
  const world = orderWorld();
  const runner = createRunner({ log });
  ids.push((await runner.run(world.saga, { id: "my-1" }))._unsafeUnwrap().sagaId);
  world.switches.chargeRefused = true;
  const refused = (await runner.run(world.saga, { id: "my-2" }))._unsafeUnwrapErr();
  if (!("sagaId" in refused) || refused.sagaId === undefined) throw new Error(refused.message);
  ids.push(refused.sagaId);
});
afterAll(() => db.close());

describe.concurrent("the CLI on a MySQL log", () => {
  it("lists its sagas with --log mysql:<url>", async ({ expect }) => {
    const run = await runCli(["sagas", "list", "--log", `mysql:${db.url}`, "--json"]);
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    const out = json<{ count: number; sagas: SagaRecord[] }>(run);
    expect(out.count).toBe(2);
    expect(out.sagas.map((s) => [s.sagaId, s.status])).toEqual([
      [ids[1], "compensated"],
      [ids[0], "completed"],
    ]);
  });

  it("takes a mysql:// URL as it is, and shows a saga's timeline", async ({ expect }) => {
    const run = await runCli(["sagas", "show", ids[1] as string, "--log", db.url, "--json"]);
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    const t = json<SagaTimeline>(run);
    expect(t.entries.map((e) => `${e.step}:${e.type}`)).toEqual([
      "hold:intent",
      "hold:committed",
      "charge:intent",
      "charge:not_committed",
      "charge:compensation_skipped",
      "hold:compensation_intent",
      "hold:compensated",
    ]);
  });

  it("refuses a database that does not exist, naming it, and creates nothing", async ({
    expect,
  }) => {
    const url = new URL(MYSQL_URL);
    url.pathname = "/lockstep_no_such_database";
    const run = await runCli(["sagas", "list", "--log", url.toString(), "--json"]);
    expect(run.code).toBe(ExitCode.Failure);
    expect(run.stderr).toMatch(/There is no MySQL database "lockstep_no_such_database"/);
    const [rows] = await db.admin.query(
      "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'lockstep_no_such_database'",
    );
    expect(rows).toEqual([]);
  });

  it("refuses a database without a log, pointing at the one that has it", async ({ expect }) => {
    const other = await openDatabase();
    try {
      const run = await runCli(["sagas", "list", "--log", other.url, "--json"]);
      expect(run.code).toBe(ExitCode.Failure);
      expect(run.stderr).toMatch(
        new RegExp(
          `no table lockstep_sagas or lockstep_saga_entries.*"${db.name}" \\(table prefix "lockstep_"\\)`,
        ),
      );
    } finally {
      await other.close();
    }
  });

  it("refuses a mysql: location that is not a URL, naming it", async ({ expect }) => {
    const run = await runCli(["sagas", "list", "--log", "mysql:orders"]);
    expect(run.code).toBe(ExitCode.Usage);
    expect(run.stderr).toMatch(
      /Expected --log mysql:<url> to be a mysql:\/\/user@host:port\/<database> URL naming a database, got "mysql:orders"/,
    );
  });
});
