import { join } from "node:path";
import { runAtomic } from "lockstep";
import { postgresStore } from "lockstep/postgres";
import { openSqlite, sqliteStore } from "lockstep/sqlite";
import type pg from "pg";
import { createDatabase, openPool } from "../support/postgres.js";
import { ms, type Row, targetAtMost } from "../support/report.js";
import { openRawSqlite, tempDir } from "../support/sqlite.js";
import { compare, type Plan, type Summary } from "../support/stats.js";

/**
 * B1: `runAtomic` against the transaction a person would write by hand with the driver, doing the
 * same three writes (debit, credit, ledger row). Both sides commit once per operation, so the ratio
 * is lockstep's own cost: strategy selection, deadline and abort plumbing, the store's write gate
 * (SQLite) or connection ownership (Postgres), and result normalisation.
 */
// A long warm-up: lockstep runs through more functions than the driver alone, and its first few
// hundred calls are still being optimised by the JIT.
const PLAN: Plan = { perRound: 200, concurrency: 1, rounds: 5, warmup: 400 };
const TARGET = 1.1;

const SQLITE_SCHEMA = [
  "CREATE TABLE accounts (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)",
  "CREATE TABLE ledger (id TEXT PRIMARY KEY, debit TEXT NOT NULL, credit TEXT NOT NULL, amount INTEGER NOT NULL)",
  "INSERT INTO accounts (id, balance) VALUES ('alice', 1000000000), ('bob', 0)",
];

export async function benchRunAtomic(admin: pg.Pool): Promise<Row[]> {
  return [...(await onSqlite()), ...(await onPostgres(admin))];
}

export function rows(engine: string, result: Record<string, Summary>, baseline: string): Row[] {
  const ours = result.runAtomic as Summary;
  const theirs = result[baseline] as Summary;
  const p50 = ours.p50Ms / theirs.p50Ms;
  return [
    {
      id: "B1",
      what: `runAtomic, ${engine}, 3 writes, 1 at a time: median latency`,
      lockstep: ms(ours.p50Ms),
      baseline: `${ms(theirs.p50Ms)} (${baseline})`,
      ratio: p50,
      ratioIs: "lockstep ÷ baseline time",
      ...targetAtMost(TARGET, p50),
    },
    {
      id: "B1",
      what: `runAtomic, ${engine}: CPU of this process per operation (fsync waits excluded)`,
      lockstep: ms(ours.cpuMsPerOp),
      baseline: ms(theirs.cpuMsPerOp),
      ratio: ours.cpuMsPerOp / theirs.cpuMsPerOp,
      ratioIs: "lockstep ÷ baseline CPU",
    },
    {
      id: "B1",
      what: `runAtomic, ${engine}: p99 latency`,
      lockstep: ms(ours.p99Ms),
      baseline: ms(theirs.p99Ms),
      ratio: ours.p99Ms / theirs.p99Ms,
      ratioIs: "lockstep ÷ baseline time",
    },
  ];
}

async function onSqlite(): Promise<Row[]> {
  const dir = tempDir("b1");
  // Two files, so neither side's WAL grows with the other's writes.
  const db = openSqlite(join(dir.path, "lockstep.db"));
  const raw = openRawSqlite(join(dir.path, "raw.db"));
  try {
    const store = sqliteStore(db);
    for (const sql of SQLITE_SCHEMA) {
      await store.handle.run(sql);
      raw.exec(sql);
    }
    const debit = raw.prepare("UPDATE accounts SET balance = balance - 1 WHERE id = 'alice'");
    const credit = raw.prepare("UPDATE accounts SET balance = balance + 1 WHERE id = 'bob'");
    const entry = raw.prepare(
      "INSERT INTO ledger (id, debit, credit, amount) VALUES (?, 'alice', 'bob', 1)",
    );
    const transfer = raw.transaction((id: string) => {
      debit.run();
      credit.run();
      entry.run(id);
    });
    const result = await compare(PLAN, [
      {
        name: "runAtomic",
        op: async (i) => {
          const done = await runAtomic(
            store,
            [
              {
                name: "debit",
                build: () => ({
                  sql: "UPDATE accounts SET balance = balance - 1 WHERE id = 'alice'",
                }),
              },
              {
                name: "credit",
                build: () => ({
                  sql: "UPDATE accounts SET balance = balance + 1 WHERE id = 'bob'",
                }),
              },
              {
                name: "entry",
                build: () => ({
                  sql: "INSERT INTO ledger (id, debit, credit, amount) VALUES (?, 'alice', 'bob', 1)",
                  params: [`t-${i}`],
                }),
              },
            ],
            { require: "atomic" },
          );
          if (done.isErr()) throw new Error(done.error.message);
        },
      },
      {
        name: "better-sqlite3 transaction",
        op: async (i) => {
          transfer(`t-${i}`);
        },
      },
    ]);
    return rows("SQLite", result, "better-sqlite3 transaction");
  } finally {
    db.close();
    raw.close();
    dir.remove();
  }
}

async function onPostgres(admin: pg.Pool): Promise<Row[]> {
  const database = await createDatabase(admin, "b1");
  const pool = openPool(database.url, 4);
  try {
    await pool.query(`
      CREATE TABLE accounts (id text PRIMARY KEY, balance bigint NOT NULL);
      CREATE TABLE ledger (id text PRIMARY KEY, debit text NOT NULL, credit text NOT NULL, amount integer NOT NULL);
      INSERT INTO accounts (id, balance) VALUES ('alice', 1000000000), ('bob', 0);`);
    const store = postgresStore(pool);
    const result = await compare(PLAN, [
      {
        name: "runAtomic",
        op: async (i) => {
          const done = await runAtomic(
            store,
            [
              {
                name: "debit",
                build: () => ({
                  text: "UPDATE accounts SET balance = balance - 1 WHERE id = 'alice'",
                }),
              },
              {
                name: "credit",
                build: () => ({
                  text: "UPDATE accounts SET balance = balance + 1 WHERE id = 'bob'",
                }),
              },
              {
                name: "entry",
                build: () => ({
                  text: "INSERT INTO ledger (id, debit, credit, amount) VALUES ($1, 'alice', 'bob', 1)",
                  values: [`t-${i}`],
                }),
              },
            ],
            { require: "atomic" },
          );
          if (done.isErr()) throw new Error(done.error.message);
        },
      },
      {
        name: "pg transaction",
        op: async (i) => {
          const client = await pool.connect();
          try {
            await client.query("BEGIN");
            await client.query("UPDATE accounts SET balance = balance - 1 WHERE id = 'alice'");
            await client.query("UPDATE accounts SET balance = balance + 1 WHERE id = 'bob'");
            await client.query(
              "INSERT INTO ledger (id, debit, credit, amount) VALUES ($1, 'alice', 'bob', 1)",
              [`t-${i}`],
            );
            await client.query("COMMIT");
          } catch (error) {
            await client.query("ROLLBACK").catch(() => {});
            throw error;
          } finally {
            client.release();
          }
        },
      },
    ]);
    return rows("Postgres", result, "pg transaction");
  } finally {
    await pool.end();
    await database.drop();
  }
}
