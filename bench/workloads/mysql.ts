import { runAtomic } from "lockstep";
import { type MysqlHandle, mysqlSagaLog, mysqlStore } from "lockstep/mysql";
import type mysql from "mysql2/promise";
import { createMysqlDatabase, openMysqlPool } from "../support/mysql.js";
import type { Row } from "../support/report.js";
import { compare, type Plan } from "../support/stats.js";
import { type Rows, STEP_NAMES, threeStepSaga } from "../support/three-step-saga.js";
import { rows as runAtomicRows } from "./b1-run-atomic.js";
import { measure, setup } from "./b2-saga-log.js";

/**
 * B1 and B2 on MySQL/MariaDB: `runAtomic` and the three-step saga on `mysqlStore` and
 * `mysqlSagaLog`, each against what a person would write by hand with `mysql2`: one transaction on a
 * pooled connection doing the same writes.
 */
const PLAN: Plan = { perRound: 200, concurrency: 1, rounds: 5, warmup: 400 };

const INSERT =
  "INSERT INTO bench_rows (id, saga_id, step, status) VALUES (?, ?, ?, 'held') ON DUPLICATE KEY UPDATE id = id";
const ROWS_DDL =
  "CREATE TABLE bench_rows (id VARCHAR(64) PRIMARY KEY, saga_id VARCHAR(64) NOT NULL, step VARCHAR(16) NOT NULL, status VARCHAR(16) NOT NULL) ENGINE=InnoDB";

const mysqlRows: Rows<MysqlHandle> = {
  insert: async (handle, id, sagaId, step) => {
    await handle.query(INSERT, [id, sagaId, step]);
  },
  exists: async (handle, id) =>
    (await handle.query("SELECT 1 FROM bench_rows WHERE id = ?", [id])).rowCount === 1,
  release: async (handle, id) =>
    (
      await handle.query(
        "UPDATE bench_rows SET status = 'released' WHERE id = ? AND status = 'held'",
        [id],
      )
    ).rowCount,
};

/** The hand-written baseline: one pooled connection, START TRANSACTION, the statements, COMMIT. */
async function handWritten(
  pool: mysql.Pool,
  statements: readonly (readonly [string, unknown[]])[],
): Promise<void> {
  const connection = await pool.getConnection();
  try {
    await connection.query("START TRANSACTION");
    for (const [sql, params] of statements) await connection.query(sql, params);
    await connection.query("COMMIT");
  } catch (error) {
    await connection.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    connection.release();
  }
}

export async function benchRunAtomicMysql(): Promise<Row[]> {
  const database = await createMysqlDatabase("b1");
  const pool = openMysqlPool(database.name, 4);
  try {
    await pool.query(
      "CREATE TABLE accounts (id VARCHAR(16) PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB",
    );
    await pool.query(
      "CREATE TABLE ledger (id VARCHAR(32) PRIMARY KEY, debit VARCHAR(16) NOT NULL, credit VARCHAR(16) NOT NULL, amount INT NOT NULL) ENGINE=InnoDB",
    );
    await pool.query("INSERT INTO accounts (id, balance) VALUES ('alice', 1000000000), ('bob', 0)");
    const store = mysqlStore(pool);
    const debit = "UPDATE accounts SET balance = balance - 1 WHERE id = 'alice'";
    const credit = "UPDATE accounts SET balance = balance + 1 WHERE id = 'bob'";
    const entry = "INSERT INTO ledger (id, debit, credit, amount) VALUES (?, 'alice', 'bob', 1)";
    const result = await compare(PLAN, [
      {
        name: "runAtomic",
        op: async (i) => {
          const done = await runAtomic(
            store,
            [
              { name: "debit", build: () => ({ sql: debit }) },
              { name: "credit", build: () => ({ sql: credit }) },
              { name: "entry", build: () => ({ sql: entry, values: [`t-${i}`] }) },
            ],
            { require: "atomic" },
          );
          if (done.isErr()) throw new Error(done.error.message);
        },
      },
      {
        name: "mysql2 transaction",
        op: (i) =>
          handWritten(pool, [
            [debit, []],
            [credit, []],
            [entry, [`r-${i}`]],
          ]),
      },
    ]);
    return runAtomicRows("MySQL", result, "mysql2 transaction");
  } finally {
    await pool.end();
    await database.drop();
  }
}

export async function benchSagaLogMysql(): Promise<Row[]> {
  const mainDb = await createMysqlDatabase("b2main");
  const otherDb = await createMysqlDatabase("b2other");
  const mainPool = openMysqlPool(mainDb.name, 20);
  const otherPool = openMysqlPool(otherDb.name, 20);
  try {
    await mainPool.query(ROWS_DDL);
    await otherPool.query(ROWS_DDL);
    const log = mysqlSagaLog(mainPool);
    await log.ensureSchema();
    const coCommitted = setup(
      "MySQL",
      "co-committed",
      log,
      threeStepSaga("b2-co", mysqlStore(mainPool), mysqlRows),
    );
    const twoStores = setup(
      "MySQL",
      "two-store",
      log,
      threeStepSaga("b2-two", mysqlStore(otherPool), mysqlRows),
    );
    const inserts = (i: number) =>
      STEP_NAMES.map((step): [string, unknown[]] => [
        INSERT,
        [`raw-${i}-${step}`, `raw-${i}`, step],
      ]);
    return await measure(
      coCommitted,
      twoStores,
      { name: "raw", op: (i) => handWritten(mainPool, inserts(i)) },
      {
        name: "raw",
        op: async (i) => {
          for (const [sql, params] of inserts(i)) await otherPool.query(sql, params);
        },
      },
    );
  } finally {
    await Promise.all([mainPool.end(), otherPool.end()]);
    await mainDb.drop();
    await otherDb.drop();
  }
}
