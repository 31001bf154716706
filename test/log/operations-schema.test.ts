import { describe, expect, it } from "vitest";
import { mysqlSagaLog } from "../../src/adapters/mysql/index.js";
import { postgresSagaLog } from "../../src/adapters/postgres/index.js";
import { sqliteSagaLog, sqliteStore } from "../../src/adapters/sqlite/index.js";
import type { SagaLog } from "../../src/log/saga-log.js";
import { SagaStatus } from "../../src/model/records.js";
import { openDatabase } from "../adapters/mysql/mysql-test.js";
import { openSchema } from "../adapters/postgres/pg-test.js";
import { tempDatabase } from "../adapters/sqlite/temp-database.js";
import { workerStatus } from "../conformance/operations-log.js";
import { sagaRecord } from "../conformance/saga-log.js";

const T0 = 1_700_000_000_000;
const NEW_TABLES = ["lockstep_operator_events", "lockstep_recovery_workers"];

/**
 * A log written before the operations tables existed (made here by dropping them from a current
 * one), opened again: it must read its sagas as before and gain the tables, so that its operations
 * work at once.
 */
async function expectOldLogGainsOperations(
  older: SagaLog,
  dropNewTables: () => Promise<void>,
  reopen: () => SagaLog,
): Promise<void> {
  await older.create(
    sagaRecord("old-1", {
      status: SagaStatus.Completed,
      leaseOwner: null,
      leaseExpiresAt: null,
    }),
  );
  await older.create(sagaRecord("old-2"));
  await dropNewTables();
  const log = reopen();
  expect((await log.load("old-2"))?.record.sagaId).toBe("old-2");
  await log.operations?.reportWorker(workerStatus("worker-a", T0));
  expect((await log.operations?.workers())?.map((w) => w.workerId)).toEqual(["worker-a"]);
  const event = await log.operations?.prune({
    before: T0 + 1,
    now: T0 + 2,
    operator: { actor: "dana", action: "prune", note: "" },
  });
  expect(event?.sagaIds).toEqual(["old-1"]);
  expect((await log.operations?.events())?.map((e) => e.eventId)).toEqual([event?.eventId]);
}

describe("a log written before its operations tables existed keeps opening, and gains them", () => {
  it("on SQLite", async () => {
    const temp = tempDatabase();
    try {
      await expectOldLogGainsOperations(
        sqliteSagaLog(temp.db),
        async () => {
          for (const table of NEW_TABLES)
            await sqliteStore(temp.db).handle.run(`DROP TABLE ${table}`);
        },
        () => sqliteSagaLog(temp.reopen()),
      );
    } finally {
      temp.remove();
    }
  });

  it("on Postgres", async () => {
    const db = await openSchema();
    try {
      await expectOldLogGainsOperations(
        postgresSagaLog(db.pool, { schema: db.schema }),
        async () => {
          for (const table of NEW_TABLES) {
            await db.admin.query(`DROP TABLE "${db.schema}"."${table}"`);
          }
        },
        () => postgresSagaLog(db.pool, { schema: db.schema }),
      );
    } finally {
      await db.close();
    }
  });

  it("on MySQL", async () => {
    const db = await openDatabase();
    try {
      await expectOldLogGainsOperations(
        mysqlSagaLog(db.pool),
        async () => {
          for (const table of NEW_TABLES)
            await db.admin.query(`DROP TABLE \`${db.name}\`.\`${table}\``);
        },
        () => mysqlSagaLog(db.pool),
      );
    } finally {
      await db.close();
    }
  });
});
