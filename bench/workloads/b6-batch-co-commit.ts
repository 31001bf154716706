import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRunner, defineSaga } from "lockstep";
import { type D1DatabaseLike, d1SagaLog, d1Store } from "lockstep/d1";
import { libsqlSagaLog, libsqlStore, openLibsql } from "lockstep/libsql";
import { Miniflare } from "miniflare";
import { z } from "zod";
import { ms, type Row, targetAtMost } from "../support/report.js";
import { compare, type Plan, type Summary } from "../support/stats.js";

/**
 * B6: a three-step saga whose steps all write to the database its log lives in, on a batch-only
 * store (D1 in workerd through Miniflare, libSQL in batch mode on a local file), against the same
 * three writes sent as one raw batch. Every step is batch co-committed, so the saga is one batch:
 * the writes, the saga's header (whose insert is also the check that its id was free) and one
 * statement for its step records. The ratio is what the durable log costs on top of the writes'
 * own batch.
 */
const PLAN: Plan = { perRound: 100, concurrency: 1, rounds: 5, warmup: 200 };
const TARGET = 1.3;

interface BatchTarget {
  readonly engine: string;
  /** The store and log for the saga. */
  readonly store: ReturnType<typeof d1Store>;
  readonly log: ReturnType<typeof d1SagaLog>;
  /** The raw baseline: three inserts in one batch of the driver. */
  readonly raw: (i: number) => Promise<void>;
  readonly schema: (sql: string) => Promise<void>;
}

const TABLES = [
  "CREATE TABLE orders (id TEXT PRIMARY KEY, amount INTEGER NOT NULL)",
  "CREATE TABLE holds (id TEXT PRIMARY KEY, amount INTEGER NOT NULL)",
  "CREATE TABLE notices (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
];

/** The same step as a pivot, which has no compensation. */
function pivot<S extends { readonly compensate: unknown }>(step: S) {
  const { compensate: _never, ...rest } = step;
  return { ...rest, kind: "pivot" as const };
}

function threeStepSaga(store: BatchTarget["store"]) {
  const write = (sql: string) => ({
    store,
    kind: "compensatable" as const,
    output: z.object({ ok: z.boolean() }),
    execute: async ({
      input,
      handle,
    }: {
      input: { id: string };
      handle: BatchTarget["store"]["handle"];
    }) => {
      void handle.run(sql, [input.id]);
      return { ok: true };
    },
    // Never called here (every step commits), but every step must be able to tell its outcome.
    probe: async () => ({ status: "not_committed" as const }),
    compensate: async () => ({ status: "compensated" as const }),
  });
  return defineSaga("b6-order", { input: z.object({ id: z.string() }) })
    .step("hold", write("INSERT INTO holds (id, amount) VALUES (?, 5)"))
    .step("order", write("INSERT INTO orders (id, amount) VALUES (?, 5)"))
    .step("notice", pivot(write("INSERT INTO notices (id, body) VALUES (?, 'placed')")))
    .build();
}

async function measure(target: BatchTarget): Promise<Row[]> {
  for (const sql of TABLES) await target.schema(sql);
  const saga = threeStepSaga(target.store);
  const runner = createRunner({ log: target.log });
  const result: Record<string, Summary> = await compare(PLAN, [
    {
      name: "saga",
      op: async (i) => {
        const done = await runner.run(saga, { id: `s-${i}` }, { sagaId: `saga-${i}` });
        if (done.isErr()) throw new Error(done.error.message);
        if (done.value.steps.some((s) => s.strategy !== "batch_co_committed")) {
          throw new Error("B6 measures fully batch-co-committed sagas only.");
        }
      },
    },
    { name: "raw batch", op: (i) => target.raw(i) },
  ]);
  const ours = result.saga as Summary;
  const theirs = result["raw batch"] as Summary;
  const p50 = ours.p50Ms / theirs.p50Ms;
  return [
    {
      id: "B6",
      what: `3-step saga batch-co-committed, ${target.engine}: median latency`,
      lockstep: ms(ours.p50Ms),
      baseline: `${ms(theirs.p50Ms)} (the 3 writes as one raw batch)`,
      ratio: p50,
      ratioIs: "lockstep ÷ baseline time",
      ...targetAtMost(TARGET, p50),
    },
    {
      id: "B6",
      what: `3-step saga batch-co-committed, ${target.engine}: CPU of this process per operation`,
      lockstep: ms(ours.cpuMsPerOp),
      baseline: ms(theirs.cpuMsPerOp),
      ratio: ours.cpuMsPerOp / theirs.cpuMsPerOp,
      ratioIs: "lockstep ÷ baseline CPU",
    },
  ];
}

async function onD1(): Promise<Row[]> {
  const mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response('ok'); } };",
    d1Databases: ["DB", "RAW"],
  });
  try {
    const db = (await mf.getD1Database("DB")) as unknown as D1DatabaseLike;
    const raw = (await mf.getD1Database("RAW")) as unknown as D1DatabaseLike;
    for (const sql of TABLES) await raw.batch([raw.prepare(sql)]);
    const store = d1Store(db, { id: "b6-d1" });
    // Prepared once and bound per batch, as the store does with its statements: from Node every
    // `prepare` and `bind` is a round trip to workerd, so a baseline preparing afresh would pay
    // three more of them than the store, and the ratio would no longer be the log's cost.
    const writes = [
      raw.prepare("INSERT INTO holds (id, amount) VALUES (?, 5)"),
      raw.prepare("INSERT INTO orders (id, amount) VALUES (?, 5)"),
      raw.prepare("INSERT INTO notices (id, body) VALUES (?, 'placed')"),
    ];
    return await measure({
      engine: "D1 (Miniflare)",
      store,
      log: d1SagaLog(db, { store }),
      schema: async (sql) => {
        await store.handle.run(sql);
      },
      raw: async (i) => {
        const id = `s-${i}`;
        await raw.batch(writes.map((write) => write.bind(id)));
      },
    });
  } finally {
    await mf.dispose();
  }
}

async function onLibsql(): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), "lockstep-b6-"));
  const client = await openLibsql(`file:${join(dir, "lockstep.db")}`);
  const raw = await openLibsql(`file:${join(dir, "raw.db")}`);
  try {
    for (const sql of TABLES) await raw.execute(sql);
    const store = libsqlStore(client, { id: "b6-libsql", mode: "batch" });
    return await measure({
      engine: "libSQL batch mode (local file)",
      store: store as unknown as BatchTarget["store"],
      log: libsqlSagaLog(client, { store }),
      schema: async (sql) => {
        await store.handle.run(sql);
      },
      raw: async (i) => {
        const id = `s-${i}`;
        await raw.batch(
          [
            { sql: "INSERT INTO holds (id, amount) VALUES (?, 5)", args: [id] },
            { sql: "INSERT INTO orders (id, amount) VALUES (?, 5)", args: [id] },
            { sql: "INSERT INTO notices (id, body) VALUES (?, 'placed')", args: [id] },
          ],
          "write",
        );
      },
    });
  } finally {
    client.close();
    raw.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchBatchCoCommit(): Promise<Row[]> {
  return [...(await onD1()), ...(await onLibsql())];
}
