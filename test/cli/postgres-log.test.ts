import { afterAll, beforeAll, describe, it } from "vitest";
import { postgresSagaLog } from "../../src/adapters/postgres/index.js";
import { ExitCode } from "../../src/cli/exit-code.js";
import { createRunner, type SagaRecord } from "../../src/index.js";
import type { SagaTimeline } from "../../src/observability/saga-timeline.js";
import { openSchema, PG_URL, type TestSchema } from "../adapters/postgres/pg-test.js";
import { orderWorld } from "../observability/support/order-world.js";
import { json, runCli } from "./support/run-cli.js";

let db: TestSchema;
const ids: string[] = [];

beforeAll(async () => {
  db = await openSchema();
  const log = postgresSagaLog(db.pool, { schema: db.schema });
  const world = orderWorld();
  const runner = createRunner({ log });
  ids.push((await runner.run(world.saga, { id: "pg-1" }))._unsafeUnwrap().sagaId);
  world.switches.chargeRefused = true;
  const refused = (await runner.run(world.saga, { id: "pg-2" }))._unsafeUnwrapErr();
  if (!("sagaId" in refused) || refused.sagaId === undefined) throw new Error(refused.message);
  ids.push(refused.sagaId);
});
afterAll(() => db.close());

describe.concurrent("the CLI on a Postgres log", () => {
  it("lists its sagas with --log postgres:<url> and --schema", async ({ expect }) => {
    const run = await runCli([
      "sagas",
      "list",
      "--log",
      `postgres:${PG_URL}`,
      "--schema",
      db.schema,
      "--json",
    ]);
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    const out = json<{ count: number; sagas: SagaRecord[] }>(run);
    expect(out.count).toBe(2);
    expect(out.sagas.map((s) => [s.sagaId, s.status])).toEqual([
      [ids[1], "compensated"],
      [ids[0], "completed"],
    ]);
  });

  it("takes a postgres:// URL as it is, and shows a saga's timeline", async ({ expect }) => {
    const run = await runCli([
      "sagas",
      "show",
      ids[1] as string,
      "--log",
      PG_URL,
      "--schema",
      db.schema,
      "--json",
    ]);
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
});
