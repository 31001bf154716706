import { join } from "node:path";
import { createRunner, type Runner, type SagaLog } from "lockstep";
import { postgresSagaLog, postgresStore } from "lockstep/postgres";
import { openSqlite, sqliteSagaLog, sqliteStore } from "lockstep/sqlite";
import type pg from "pg";
import { countingLog, type LogCounts } from "../support/counting-log.js";
import { createDatabase, openPool } from "../support/postgres.js";
import { ms, perSec, type Row, targetAtMost } from "../support/report.js";
import { openRawSqlite, tempDir, walPagesPerOp } from "../support/sqlite.js";
import { type Contender, compare, type Plan, runBatch, type Summary } from "../support/stats.js";
import {
  postgresRows,
  ROWS_DDL,
  rawPgInserts,
  rawPgTransaction,
  rawSqliteStatements,
  sqliteRows,
  threeStepSaga,
} from "../support/three-step-saga.js";

/**
 * B2: the three-step saga with a durable log.
 *
 * - Co-committed: every step lives on the log's own database, so the runner folds the steps and
 *   their records into one transaction. The baseline is one hand-written transaction doing the same
 *   three inserts, which is what co-commit promises to approach.
 * - Across two stores: the log on one database, the steps on another, so each step is a probed saga
 *   step with a write-ahead intent. The log is wrapped to count its synchronous writes; the baseline
 *   is the same three inserts with no log at all, each committed on its own, at the same concurrency.
 */
const LATENCY: Plan = { perRound: 150, concurrency: 1, rounds: 5, warmup: 50 };
const SERIAL: Plan = { perRound: 100, concurrency: 1, rounds: 3, warmup: 30 };
const CONCURRENT: Plan = { perRound: 400, concurrency: 16, rounds: 3, warmup: 100 };
const COUNTED_SAGAS = 20;
const PAGED_SAGAS = 500;
const STEPS = 3;

interface Setup {
  readonly engine: string;
  readonly runner: Runner;
  readonly run: (i: number) => Promise<void>;
  readonly counts: LogCounts;
  readonly resetCounts: () => void;
}

/** A runner over a counted log, and an op that runs saga `i` and fails loudly if it did not complete. */
export function setup(
  engine: string,
  name: string,
  log: SagaLog,
  saga: ReturnType<typeof threeStepSaga>,
): Setup {
  const counted = countingLog(log);
  // A long lease: renewals are not what this measures, and none should happen in a short saga.
  const runner = createRunner({ log: counted.log, leaseTtlMs: 60_000 });
  return {
    engine,
    runner,
    counts: counted.counts,
    resetCounts: counted.reset,
    run: async (i) => {
      const result = await runner.run(saga, { n: i });
      if (result.isErr()) throw new Error(`${name} saga ${i}: ${result.error.message}`);
    },
  };
}

/** Runs a few sagas one at a time and returns the synchronous log writes each made. */
async function countWrites(s: Setup, from: number): Promise<LogCounts> {
  s.resetCounts();
  await runBatch(COUNTED_SAGAS, 1, (i) => s.run(from + i));
  const per = (n: number) => n / COUNTED_SAGAS;
  return {
    create: per(s.counts.create),
    write: per(s.counts.write),
    coCommit: per(s.counts.coCommit),
    lease: per(s.counts.lease),
  };
}

const countsText = (c: LogCounts) =>
  `create ${c.create} + write ${c.write}${c.coCommit > 0 ? ` (+ ${c.coCommit} records inside step transactions)` : ""}${c.lease > 0 ? ` + lease ${c.lease}` : ""}`;

function coCommitRows(s: Setup, result: Record<string, Summary>, counts: LogCounts): Row[] {
  const ours = result.lockstep as Summary;
  const theirs = result.raw as Summary;
  const p50 = ours.p50Ms / theirs.p50Ms;
  // Each co-committed group is one step transaction, and carries its log records in one call.
  const commits = counts.create + counts.write + counts.coCommit;
  return [
    {
      id: "B2",
      what: `3-step saga, all steps co-committed on the ${s.engine} log's database, 1 at a time: median latency`,
      lockstep: ms(ours.p50Ms),
      baseline: `${ms(theirs.p50Ms)} (one transaction, same 3 inserts)`,
      ratio: p50,
      ratioIs: "lockstep ÷ baseline time",
      ...targetAtMost(1.3, p50),
    },
    {
      id: "B2",
      what: `co-committed, ${s.engine}: CPU of this process per saga`,
      lockstep: ms(ours.cpuMsPerOp),
      baseline: ms(theirs.cpuMsPerOp),
      ratio: ours.cpuMsPerOp / theirs.cpuMsPerOp,
      ratioIs: "lockstep ÷ baseline CPU",
    },
    {
      id: "B2",
      what: `co-committed, ${s.engine}: p99 latency`,
      lockstep: ms(ours.p99Ms),
      baseline: ms(theirs.p99Ms),
      ratio: ours.p99Ms / theirs.p99Ms,
      ratioIs: "lockstep ÷ baseline time",
    },
    {
      id: "B2",
      what: `co-committed, ${s.engine}: commits per saga (log create ${counts.create} + log write ${counts.write} + step transactions ${counts.coCommit}, each carrying its log records)`,
      lockstep: `${commits}`,
      baseline: "1",
      ratio: commits,
      ratioIs: "lockstep ÷ baseline commits",
    },
  ];
}

function twoStoreRows(
  engine: string,
  counts: LogCounts,
  serial: Record<string, Summary>,
  concurrent: Record<string, Summary>,
): Row[] {
  const perStep = (counts.create + counts.write) / STEPS;
  const rows: Row[] = [
    {
      id: "B2",
      what: `3-step saga across two ${engine} databases: synchronous log writes per step (${countsText(counts)} per saga)`,
      lockstep: perStep.toFixed(2),
      baseline: "0 (no log)",
      ratio: perStep,
      ratioIs: "log writes ÷ steps",
      ...targetAtMost(1, perStep),
    },
  ];
  for (const [label, result] of [
    ["1", serial],
    ["16", concurrent],
  ] as const) {
    const ours = result.lockstep as Summary;
    const theirs = result.raw as Summary;
    rows.push({
      id: "B2",
      what: `across two ${engine} databases, ${label} concurrent: throughput (sagas/s)`,
      lockstep: perSec(ours.opsPerSec),
      baseline: `${perSec(theirs.opsPerSec)} (same 3 inserts, no log)`,
      ratio: theirs.opsPerSec / ours.opsPerSec,
      ratioIs: "baseline ÷ lockstep throughput (slowdown)",
    });
  }
  return rows;
}

export async function benchSagaLog(admin: pg.Pool): Promise<Row[]> {
  return [...(await onSqlite()), ...(await onPostgres(admin))];
}

async function onSqlite(): Promise<Row[]> {
  const dir = tempDir("b2");
  const main = openSqlite(join(dir.path, "main.db"));
  const other = openSqlite(join(dir.path, "other.db"));
  const rawMain = openRawSqlite(join(dir.path, "raw-main.db"));
  const rawOther = openRawSqlite(join(dir.path, "raw-other.db"));
  try {
    const mainStore = sqliteStore(main);
    const otherStore = sqliteStore(other);
    await mainStore.handle.run(ROWS_DDL);
    await otherStore.handle.run(ROWS_DDL);
    rawMain.exec(ROWS_DDL);
    rawOther.exec(ROWS_DDL);
    const log = sqliteSagaLog(main);
    await log.list({ limit: 1 });
    const coCommitted = setup(
      "SQLite",
      "co-committed",
      log,
      threeStepSaga("b2-co", mainStore, sqliteRows),
    );
    const twoStores = setup(
      "SQLite",
      "two-store",
      log,
      threeStepSaga("b2-two", otherStore, sqliteRows),
    );
    const rawTx = rawSqliteStatements(rawMain);
    const rawInserts = rawSqliteStatements(rawOther);
    // Pages written per saga: what a co-committed saga adds to its transaction, free of load noise.
    const pages = await walPagesPerOp(join(dir.path, "main.db"), PAGED_SAGAS, (i) =>
      coCommitted.run(5_000_000 + i),
    );
    const rawPages = await walPagesPerOp(join(dir.path, "raw-main.db"), PAGED_SAGAS, async (i) =>
      rawTx.transaction(5_000_000 + i),
    );
    const rows = await measure(
      coCommitted,
      twoStores,
      { name: "raw", op: async (i) => rawTx.transaction(i) },
      { name: "raw", op: async (i) => rawInserts.inserts(i) },
    );
    return [
      ...rows.slice(0, 1),
      {
        id: "B2",
        what: "co-committed, SQLite: database pages written per saga (WAL frames; sagas table, its 4 indexes, 3 entries, 3 rows)",
        lockstep: pages.toFixed(2),
        baseline: `${rawPages.toFixed(2)} (one transaction, same 3 inserts)`,
        ratio: pages / rawPages,
        ratioIs: "lockstep ÷ baseline pages",
      },
      ...rows.slice(1),
    ];
  } finally {
    main.close();
    other.close();
    rawMain.close();
    rawOther.close();
    dir.remove();
  }
}

async function onPostgres(admin: pg.Pool): Promise<Row[]> {
  const mainDb = await createDatabase(admin, "b2main");
  const otherDb = await createDatabase(admin, "b2other");
  const mainPool = openPool(mainDb.url, 20);
  const otherPool = openPool(otherDb.url, 20);
  try {
    await mainPool.query(ROWS_DDL);
    await otherPool.query(ROWS_DDL);
    const log = postgresSagaLog(mainPool);
    await log.ensureSchema();
    const coCommitted = setup(
      "Postgres",
      "co-committed",
      log,
      threeStepSaga("b2-co", postgresStore(mainPool), postgresRows),
    );
    const twoStores = setup(
      "Postgres",
      "two-store",
      log,
      threeStepSaga("b2-two", postgresStore(otherPool), postgresRows),
    );
    return await measure(
      coCommitted,
      twoStores,
      { name: "raw", op: (i) => rawPgTransaction(mainPool, i) },
      { name: "raw", op: (i) => rawPgInserts(otherPool, i) },
    );
  } finally {
    await Promise.all([mainPool.end(), otherPool.end()]);
    await mainDb.drop();
    await otherDb.drop();
  }
}

export async function measure(
  coCommitted: Setup,
  twoStores: Setup,
  rawTransaction: Contender,
  rawInserts: Contender,
): Promise<Row[]> {
  // Saga numbers are kept apart per phase so no saga id or row key is ever reused.
  const coCounts = await countWrites(coCommitted, 1_000_000);
  const co = await compare(LATENCY, [{ name: "lockstep", op: coCommitted.run }, rawTransaction]);
  const twoCounts = await countWrites(twoStores, 2_000_000);
  const offset = (c: Contender, by: number): Contender => ({
    name: c.name,
    op: (i) => c.op(by + i),
  });
  const serial = await compare(SERIAL, [
    offset({ name: "lockstep", op: twoStores.run }, 3_000_000),
    offset(rawInserts, 3_000_000),
  ]);
  const concurrent = await compare(CONCURRENT, [
    offset({ name: "lockstep", op: twoStores.run }, 4_000_000),
    offset(rawInserts, 4_000_000),
  ]);
  return [
    ...coCommitRows(coCommitted, co, coCounts),
    ...twoStoreRows(twoStores.engine, twoCounts, serial, concurrent),
  ];
}
