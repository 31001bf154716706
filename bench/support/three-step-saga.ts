import {
  committed,
  compensated,
  defineSaga,
  guardFailed,
  notCommitted,
  type StepStore,
} from "lockstep";
import type { PostgresHandle } from "lockstep/postgres";
import type { SqliteHandle } from "lockstep/sqlite";
import type pg from "pg";
import { z } from "zod";

/**
 * The table every saga step and every baseline writes one row to. `ON CONFLICT DO NOTHING` makes
 * each insert idempotent by its id (the step's key), as a retriable step must be; the baselines run
 * the very same statement so they pay for it too.
 */
export const ROWS_DDL =
  "CREATE TABLE bench_rows (id TEXT PRIMARY KEY, saga_id TEXT NOT NULL, step TEXT NOT NULL, status TEXT NOT NULL)";
const INSERT_SQLITE =
  "INSERT INTO bench_rows (id, saga_id, step, status) VALUES (?, ?, ?, 'held') ON CONFLICT (id) DO NOTHING";
export const INSERT_PG =
  "INSERT INTO bench_rows (id, saga_id, step, status) VALUES ($1, $2, $3, 'held') ON CONFLICT (id) DO NOTHING";

/** How steps reach `bench_rows` through one store's handle. */
export interface Rows<Handle> {
  insert(handle: Handle, id: string, sagaId: string, step: string): Promise<void>;
  exists(handle: Handle, id: string): Promise<boolean>;
  /** The guarded undo: releases the row only while it is still held. Returns rows changed. */
  release(handle: Handle, id: string): Promise<number>;
}

export const sqliteRows: Rows<SqliteHandle> = {
  insert: async (handle, id, sagaId, step) => {
    await handle.run(INSERT_SQLITE, [id, sagaId, step]);
  },
  exists: async (handle, id) =>
    (await handle.get("SELECT 1 AS found FROM bench_rows WHERE id = ?", [id])) !== undefined,
  release: async (handle, id) =>
    (
      await handle.run(
        "UPDATE bench_rows SET status = 'released' WHERE id = ? AND status = 'held'",
        [id],
      )
    ).changes,
};

export const postgresRows: Rows<PostgresHandle> = {
  insert: async (handle, id, sagaId, step) => {
    await handle.query(INSERT_PG, [id, sagaId, step]);
  },
  exists: async (handle, id) =>
    (await handle.query("SELECT 1 FROM bench_rows WHERE id = $1", [id])).rowCount === 1,
  release: async (handle, id) =>
    (
      await handle.query(
        "UPDATE bench_rows SET status = 'released' WHERE id = $1 AND status = 'held'",
        [id],
      )
    ).rowCount,
};

/** The names of the three steps, in order; baselines write one row per name too. */
export const STEP_NAMES = ["reserve", "charge", "notify"] as const;

const idOutput = z.object({ id: z.string() });

/**
 * The benchmark saga: reserve (compensatable, guarded undo) → charge (pivot) → notify (retriable),
 * each inserting one row keyed by its step key, each with a probe. It is the smallest saga that has
 * every kind of step, so it exercises the whole write-ahead protocol.
 */
export function threeStepSaga<Handle>(name: string, store: StepStore<Handle>, rows: Rows<Handle>) {
  const probe = async ({ handle, key }: { handle: Handle; key: string }) =>
    (await rows.exists(handle, key)) ? committed({ id: key }) : notCommitted();
  return defineSaga(name, { input: z.object({ n: z.number().int() }) })
    .step("reserve", {
      store,
      kind: "compensatable",
      output: idOutput,
      execute: async ({ handle, key, sagaId }) => {
        await rows.insert(handle, key, sagaId, "reserve");
        return { id: key };
      },
      probe,
      compensate: async ({ handle, output }) => {
        if ((await rows.release(handle, output.id)) === 1) return compensated();
        return (await rows.exists(handle, output.id))
          ? compensated()
          : guardFailed(`row ${output.id} is gone`);
      },
    })
    .step("charge", {
      store,
      kind: "pivot",
      output: idOutput,
      execute: async ({ handle, key, sagaId }) => {
        await rows.insert(handle, key, sagaId, "charge");
        return { id: key };
      },
      probe,
    })
    .step("notify", {
      store,
      kind: "retriable",
      // Its insert does nothing for a key already there, so it can be executed again safely.
      idempotent: true,
      output: idOutput,
      execute: async ({ handle, key, sagaId }) => {
        await rows.insert(handle, key, sagaId, "notify");
        return { id: key };
      },
      probe,
    })
    .build();
}

/** The baseline for a co-committed saga on Postgres: the same three inserts in one transaction. */
export async function rawPgTransaction(pool: pg.Pool, index: number): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    for (const step of STEP_NAMES) {
      await client.query(INSERT_PG, [`raw-${index}-${step}`, `raw-${index}`, step]);
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** The baseline for a saga across stores on Postgres: the same three inserts, each on its own. */
export async function rawPgInserts(pool: pg.Pool, index: number): Promise<void> {
  for (const step of STEP_NAMES) {
    await pool.query(INSERT_PG, [`raw-${index}-${step}`, `raw-${index}`, step]);
  }
}

/** Prepared better-sqlite3 statements for the SQLite baselines. */
export function rawSqliteStatements(db: import("better-sqlite3").Database) {
  const insert = db.prepare(INSERT_SQLITE);
  const all = db.transaction((index: number) => {
    for (const step of STEP_NAMES) insert.run(`raw-${index}-${step}`, `raw-${index}`, step);
  });
  return {
    /** The same three inserts in one transaction. */
    transaction: (index: number) => all(index),
    /** The same three inserts, each committed on its own. */
    inserts: (index: number) => {
      for (const step of STEP_NAMES) insert.run(`raw-${index}-${step}`, `raw-${index}`, step);
    },
  };
}
