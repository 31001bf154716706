import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type MysqlSagaLog, mysqlSagaLog } from "../../src/adapters/mysql/index.js";
import {
  expectConformanceCases,
  openDatabase,
  type TestDatabase,
} from "../adapters/mysql/mysql-test.js";
import { sagaLogConformance, sagaRecord } from "../conformance/saga-log.js";

const NOW = 1_700_000_000_000;
const TTL = 1_000;

sagaLogConformance("mysqlSagaLog", async () => {
  const db = await openDatabase();
  return { log: mysqlSagaLog(db.pool), close: () => db.close() };
});
expectConformanceCases("SagaLog conformance: mysqlSagaLog", 23);
expectConformanceCases("OperationsLog conformance: mysqlSagaLog", 8);

sagaLogConformance("mysqlSagaLog with a table prefix, in a named database", async () => {
  const db = await openDatabase();
  const other = await openDatabase();
  return {
    log: mysqlSagaLog(other.pool, { database: db.name, tablePrefix: "billing_" }),
    close: async () => {
      await other.close();
      await db.close();
    },
  };
});
expectConformanceCases(
  "SagaLog conformance: mysqlSagaLog with a table prefix, in a named database",
  23,
);

/** Sagas whose lease is free and that are due, so recovery would claim them. */
const recoverable = (id: string) => sagaRecord(id, { leaseOwner: null, leaseExpiresAt: null });

describe("mysqlSagaLog tables", () => {
  let db: TestDatabase;
  let log: MysqlSagaLog;

  beforeEach(async () => {
    db = await openDatabase();
    log = mysqlSagaLog(db.pool);
  });

  afterEach(() => db.close());

  it("creates its tables once, from many logs and connections at the same time", async () => {
    const logs = Array.from({ length: 8 }, () => mysqlSagaLog(db.pool, { tablePrefix: "racing_" }));
    await Promise.all(logs.map((each) => each.ensureSchema()));
    const [rows] = await db.admin.query(
      "SELECT TABLE_NAME AS t, ENGINE AS e, TABLE_COLLATION AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
      [db.name],
    );
    expect((rows as { t: string }[]).sort((a, b) => (a.t < b.t ? -1 : 1))).toEqual([
      { t: "racing_operator_events", e: "InnoDB", c: "utf8mb4_bin" },
      { t: "racing_recovery_workers", e: "InnoDB", c: "utf8mb4_bin" },
      { t: "racing_saga_entries", e: "InnoDB", c: "utf8mb4_bin" },
      { t: "racing_sagas", e: "InnoDB", c: "utf8mb4_bin" },
    ]);
    await logs[3]?.create(recoverable("saga-1"));
    expect((await logs[5]?.load("saga-1"))?.record.sagaId).toBe("saga-1");
  });

  it("tells saga ids apart by case, as every other log does", async () => {
    await log.create(recoverable("Saga-A"));
    await log.create(recoverable("saga-a"));
    expect((await log.list()).map((r) => r.sagaId).sort()).toEqual(["Saga-A", "saga-a"]);
  });

  it("refuses a database or prefix that is not a plain identifier, and a callback pool, naming the value", async () => {
    expect(() => mysqlSagaLog(db.pool, { database: "x`; DROP TABLE y; --" })).toThrow(
      /Expected `database` to be letters, digits and underscores .*got `"x`; DROP TABLE y; --"` \(string\)/,
    );
    expect(() => mysqlSagaLog(db.pool, { tablePrefix: "1abc" })).toThrow(/`tablePrefix`/);
    expect(() => mysqlSagaLog({} as never)).toThrow(/Expected `pool` to be a mysql2 promise pool/);
    const { createPool } = await import("mysql2");
    const callbackPool = createPool({ host: "127.0.0.1", user: "root" });
    try {
      expect(() => mysqlSagaLog(callbackPool as never)).toThrow(
        /got a mysql2 callback pool .*pass `pool.promise\(\)` instead/,
      );
    } finally {
      await new Promise((resolve) => callbackPool.end(resolve));
    }
  });

  it("stores bigint columns and reads them back as numbers, past 2^31", async () => {
    const far = 4_102_444_800_000; // 2100-01-01
    await log.create(sagaRecord("saga-1", { leaseExpiresAt: far, createdAt: far, updatedAt: far }));
    const record = (await log.load("saga-1"))?.record;
    expect(record?.leaseExpiresAt).toBe(far);
    expect(typeof record?.fencingToken).toBe("number");
    expect(await log.acquireLease("saga-1", "other", TTL, far + 1)).toBe(2);
  });

  it("claims each due saga once across concurrent claimers (FOR UPDATE SKIP LOCKED)", async () => {
    for (let i = 0; i < 20; i++)
      await log.create(recoverable(`saga-${String(i).padStart(2, "0")}`));
    const claimers = Array.from({ length: 5 }, () => mysqlSagaLog(db.pool));
    const claims = await Promise.all(
      claimers.map((each, i) => each.claimRecoverable(`worker-${i}`, TTL, NOW + 10_000, 8)),
    );
    // A claimer skips the rows the others hold locked, so together they may take fewer than all;
    // one more claim afterwards takes the rest, and no saga is ever taken twice.
    const rest = await log.claimRecoverable("sweeper", TTL, NOW + 10_000, 20);
    const ids = [...claims.flat(), ...rest].map((c) => c.sagaId);
    expect(new Set(ids).size, "no saga may be claimed twice").toBe(ids.length);
    expect(ids.length).toBe(20);
    expect(claims.flat().length, "the concurrent claimers must claim something").toBeGreaterThan(0);
  });
});
