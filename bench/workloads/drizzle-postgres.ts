import { and, eq, sql } from "drizzle-orm";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { bigint, integer, pgTable, text } from "drizzle-orm/pg-core";
import { createRunner, runAtomic } from "lockstep";
import { type DrizzleHandle, drizzleSagaLog, drizzleStore } from "lockstep/drizzle";
import type pg from "pg";
import { createDatabase, openPool } from "../support/postgres.js";
import { ms, type Row, targetAtMost } from "../support/report.js";
import { compare, type Plan, type Summary } from "../support/stats.js";
import { ROWS_DDL, type Rows, STEP_NAMES, threeStepSaga } from "../support/three-step-saga.js";

/**
 * The Drizzle-on-Postgres rows of B1 and B2: lockstep with a `drizzleStore` against Drizzle's own
 * `db.transaction` doing the same statements, so the ratio is what lockstep adds to a Drizzle
 * application. B1: runAtomic's three writes (debit, credit, ledger row). B2: the three-step saga,
 * every step co-committed with its log record on the database of `drizzleSagaLog`.
 */
const B1_PLAN: Plan = { perRound: 200, concurrency: 1, rounds: 5, warmup: 400 };
const B2_PLAN: Plan = { perRound: 150, concurrency: 1, rounds: 5, warmup: 50 };

const accounts = pgTable("accounts", {
  id: text("id").primaryKey(),
  balance: bigint("balance", { mode: "number" }).notNull(),
});
const ledger = pgTable("ledger", {
  id: text("id").primaryKey(),
  debit: text("debit").notNull(),
  credit: text("credit").notNull(),
  amount: integer("amount").notNull(),
});
const benchRows = pgTable("bench_rows", {
  id: text("id").primaryKey(),
  sagaId: text("saga_id").notNull(),
  step: text("step").notNull(),
  status: text("status").notNull(),
});

type Db = NodePgDatabase & { $client: pg.Pool };
type Handle = DrizzleHandle<Db>;

const debit = (tx: Handle) =>
  tx
    .update(accounts)
    .set({ balance: sql`${accounts.balance} - 1` })
    .where(eq(accounts.id, "alice"));
const credit = (tx: Handle) =>
  tx
    .update(accounts)
    .set({ balance: sql`${accounts.balance} + 1` })
    .where(eq(accounts.id, "bob"));
const entry = (tx: Handle, id: string) =>
  tx.insert(ledger).values({ id, debit: "alice", credit: "bob", amount: 1 });

const insertRow = (tx: Handle, id: string, sagaId: string, step: string) =>
  tx.insert(benchRows).values({ id, sagaId, step, status: "held" }).onConflictDoNothing();

const drizzleRows: Rows<Handle> = {
  insert: async (handle, id, sagaId, step) => {
    await insertRow(handle, id, sagaId, step);
  },
  exists: async (handle, id) =>
    (await handle.select({ id: benchRows.id }).from(benchRows).where(eq(benchRows.id, id)))
      .length === 1,
  release: async (handle, id) =>
    (
      await handle
        .update(benchRows)
        .set({ status: "released" })
        .where(and(eq(benchRows.id, id), eq(benchRows.status, "held")))
    ).rowCount ?? 0,
};

function rowsOf(
  id: "B1" | "B2",
  what: string,
  baseline: string,
  target: number,
  result: Record<string, Summary>,
): Row[] {
  const ours = result.lockstep as Summary;
  const theirs = result.drizzle as Summary;
  const p50 = ours.p50Ms / theirs.p50Ms;
  return [
    {
      id,
      what: `${what}, Drizzle on Postgres, 1 at a time: median latency`,
      lockstep: ms(ours.p50Ms),
      baseline: `${ms(theirs.p50Ms)} (${baseline})`,
      ratio: p50,
      ratioIs: "lockstep ÷ baseline time",
      ...targetAtMost(target, p50),
    },
    {
      id,
      what: `${what}, Drizzle on Postgres: CPU of this process per operation`,
      lockstep: ms(ours.cpuMsPerOp),
      baseline: ms(theirs.cpuMsPerOp),
      ratio: ours.cpuMsPerOp / theirs.cpuMsPerOp,
      ratioIs: "lockstep ÷ baseline CPU",
    },
    {
      id,
      what: `${what}, Drizzle on Postgres: p99 latency`,
      lockstep: ms(ours.p99Ms),
      baseline: ms(theirs.p99Ms),
      ratio: ours.p99Ms / theirs.p99Ms,
      ratioIs: "lockstep ÷ baseline time",
    },
  ];
}

export async function benchDrizzlePostgres(admin: pg.Pool): Promise<Row[]> {
  const database = await createDatabase(admin, "drizzle");
  const pool = openPool(database.url, 4);
  try {
    await pool.query(`
      CREATE TABLE accounts (id text PRIMARY KEY, balance bigint NOT NULL);
      CREATE TABLE ledger (id text PRIMARY KEY, debit text NOT NULL, credit text NOT NULL, amount integer NOT NULL);
      INSERT INTO accounts (id, balance) VALUES ('alice', 1000000000), ('bob', 0);
      ${ROWS_DDL};`);
    const db = drizzle(pool);
    const store = drizzleStore(db, { id: "bench-db" });
    const b1 = await compare(B1_PLAN, [
      {
        name: "lockstep",
        op: async (i) => {
          const done = await runAtomic(
            store,
            [
              { name: "debit", build: () => debit },
              { name: "credit", build: () => credit },
              { name: "entry", build: () => (tx: Handle) => entry(tx, `l-${i}`) },
            ],
            { require: "atomic" },
          );
          if (done.isErr()) throw new Error(done.error.message);
        },
      },
      {
        name: "drizzle",
        op: async (i) => {
          await db.transaction(async (tx) => {
            await debit(tx);
            await credit(tx);
            await entry(tx, `d-${i}`);
          });
        },
      },
    ]);
    const log = drizzleSagaLog(db, { store });
    await log.ensureSchema();
    // A long lease: renewals are not what this measures.
    const runner = createRunner({ log, leaseTtlMs: 60_000 });
    const saga = threeStepSaga("b2-drizzle", store, drizzleRows);
    const b2 = await compare(B2_PLAN, [
      {
        name: "lockstep",
        op: async (i) => {
          const result = await runner.run(saga, { n: i });
          if (result.isErr()) throw new Error(`saga ${i}: ${result.error.message}`);
          if (result.value.steps.some((s) => s.strategy !== "co_committed")) {
            throw new Error(`saga ${i}: a step was not co-committed`);
          }
        },
      },
      {
        name: "drizzle",
        op: async (i) => {
          await db.transaction(async (tx) => {
            for (const step of STEP_NAMES)
              await insertRow(tx, `raw-${i}-${step}`, `raw-${i}`, step);
          });
        },
      },
    ]);
    return [
      ...rowsOf("B1", "runAtomic, 3 writes", "Drizzle's db.transaction", 1.1, b1),
      ...rowsOf(
        "B2",
        "3-step saga, all steps co-committed on the log's database",
        "Drizzle's db.transaction, same 3 inserts",
        1.3,
        b2,
      ),
    ];
  } finally {
    await pool.end();
    await database.drop();
  }
}
