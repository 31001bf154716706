/**
 * B3, in a process of its own (DBOS is a per-process singleton): the three-step workflow written
 * with lockstep and with DBOS, against the same local Postgres, measured side by side and in turns.
 *
 * Like for like: each system keeps its durable state in a database of its own (lockstep's saga log,
 * DBOS's system database) and each step inserts one row into a shared application database through
 * an ordinary pool, with no transaction tying the row to the checkpoint. For DBOS that is
 * `DBOS.runStep`; for lockstep a probed saga step on a store whose database is not the log's.
 * lockstep's co-committed variant (steps on the log's own database) is measured too, for reference:
 * DBOS's counterpart would be a transactional data source, a package this comparison does not use.
 */
import { readFileSync } from "node:fs";
import { DBOS } from "@dbos-inc/dbos-sdk";
import { createRunner } from "lockstep";
import { postgresSagaLog, postgresStore } from "lockstep/postgres";
import { sendResult } from "../support/child.js";
import { createDatabase, openPool, PG_URL } from "../support/postgres.js";
import { compare, type Plan, type Summary } from "../support/stats.js";
import {
  INSERT_PG,
  postgresRows,
  ROWS_DDL,
  rawPgInserts,
  STEP_NAMES,
  threeStepSaga,
} from "../support/three-step-saga.js";

export interface DbosResult {
  readonly serial?: Record<string, Summary>;
  readonly concurrent?: Record<string, Summary>;
  readonly dbosVersion?: string;
  readonly error?: string;
}

const SERIAL: Plan = { perRound: 100, concurrency: 1, rounds: 3, warmup: 50 };
const CONCURRENT: Plan = { perRound: 400, concurrency: 16, rounds: 3, warmup: 100 };

// The package does not export its package.json; the child runs from the repository root.
const dbosVersion = (
  JSON.parse(readFileSync("node_modules/@dbos-inc/dbos-sdk/package.json", "utf8")) as {
    version: string;
  }
).version;
const admin = openPool(PG_URL, 2);
const logDb = await createDatabase(admin, "b3log");
const appDb = await createDatabase(admin, "b3app");
// DBOS creates its system database itself; the name is only reserved here and dropped at the end.
const sysName = `${appDb.name.replace("b3app", "b3dbos")}`;
const sysUrl = new URL(PG_URL);
sysUrl.pathname = `/${sysName}`;
const logPool = openPool(logDb.url, 20);
const appPool = openPool(appDb.url, 20);
let launched = false;
try {
  await appPool.query(ROWS_DDL);
  const log = postgresSagaLog(logPool);
  await log.ensureSchema();
  const runner = createRunner({ log, leaseTtlMs: 60_000 });
  const twoStore = threeStepSaga("b3", postgresStore(appPool), postgresRows);
  // The co-committed variant: a log living in the application database itself.
  const coLog = postgresSagaLog(appPool);
  await coLog.ensureSchema();
  const coRunner = createRunner({ log: coLog, leaseTtlMs: 60_000 });
  const coCommitted = threeStepSaga("b3co", postgresStore(appPool), postgresRows);

  const workflow = DBOS.registerWorkflow(
    async (n: number) => {
      const id = DBOS.workflowID ?? `n${n}`;
      for (const step of STEP_NAMES) {
        await DBOS.runStep(
          async () => {
            await appPool.query(INSERT_PG, [`${id}-${step}`, id, step]);
          },
          { name: step },
        );
      }
    },
    { name: "threeSteps" },
  );
  DBOS.setConfig({
    name: "lockstep-bench",
    systemDatabaseUrl: sysUrl.toString(),
    // The same pool size lockstep's log gets, so neither is starved of connections at 16.
    systemDatabasePoolSize: 20,
    logLevel: "error",
  });
  await DBOS.launch();
  launched = true;

  const contenders = [
    {
      name: "lockstep",
      op: async (i: number) => {
        const result = await runner.run(twoStore, { n: i });
        if (result.isErr()) throw new Error(result.error.message);
      },
    },
    { name: "dbos", op: (i: number) => workflow(i) },
    { name: "raw", op: (i: number) => rawPgInserts(appPool, i) },
    {
      name: "lockstep co-committed",
      op: async (i: number) => {
        const result = await coRunner.run(coCommitted, { n: i });
        if (result.isErr()) throw new Error(result.error.message);
      },
    },
  ];
  const serial = await compare(SERIAL, contenders);
  const concurrent = await compare(
    CONCURRENT,
    contenders.map((c) => ({ name: c.name, op: (i: number) => c.op(1_000_000 + i) })),
  );
  sendResult({ serial, concurrent, dbosVersion } satisfies DbosResult);
} catch (error) {
  sendResult({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
} finally {
  if (launched) await DBOS.shutdown();
  await Promise.all([logPool.end(), appPool.end()]);
  await logDb.drop();
  await appDb.drop();
  await admin.query(`DROP DATABASE IF EXISTS "${sysName}" WITH (FORCE)`);
  await admin.end();
}
