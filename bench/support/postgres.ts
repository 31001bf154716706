import { randomBytes } from "node:crypto";
import pg from "pg";

/** Where the benchmarks find Postgres; the same variable the tests read. */
export const PG_URL = process.env.LOCKSTEP_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/**
 * Opens a pool. Pools are kept small: the server allows 100 connections in all, and other test runs
 * on this machine need theirs. The error listener is there because pg crashes the process on an
 * idle client's error otherwise.
 */
export function openPool(url: string, max = 20): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: "lockstep-bench" });
  pool.on("error", () => {});
  return pool;
}

/** A database made for one workload and dropped after it. */
export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** Creates a uniquely named database, so parallel runs and crashed runs never collide. */
export async function createDatabase(admin: pg.Pool, label: string): Promise<BenchDatabase> {
  const name = `lockstep_bench_${label}_${process.pid}_${randomBytes(3).toString("hex")}`;
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}
