import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, expect } from "vitest";

/** Where the tests find Postgres. Tests fail, never skip, when it cannot be reached. */
export const PG_URL = process.env.LOCKSTEP_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A fresh lowercase identifier, unique across processes and runs. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString("hex")}`;
}

/** A pool that tolerates the server closing idle connections (tests terminate backends on purpose). */
export function openPool(config: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: PG_URL, ...config });
  pool.on("error", () => {});
  return pool;
}

/** A schema of its own on the test database, with a pool whose `search_path` starts there. */
export interface TestSchema {
  readonly schema: string;
  readonly pool: pg.Pool;
  /** A pool for setup and inspection, outside the code under test. */
  readonly admin: pg.Pool;
  /** Ends the pools and drops the schema with everything in it. */
  close(): Promise<void>;
}

/** Creates a uniquely named schema; fails (rather than skips) when Postgres is unreachable. */
export async function openSchema(config: pg.PoolConfig = {}): Promise<TestSchema> {
  const schema = uniqueName("lockstep_t");
  const admin = openPool({ max: 2 });
  try {
    await admin.query(`CREATE SCHEMA "${schema}"`);
  } catch (error) {
    await admin.end();
    throw new Error(
      `Postgres at ${PG_URL} is required by this test and could not be used: ${(error as Error).message}`,
      { cause: error },
    );
  }
  // The application name lets a test tell its own backends apart in pg_stat_activity.
  const pool = openPool({
    options: `-c search_path=${schema}`,
    application_name: schema,
    ...config,
  });
  return {
    schema,
    pool,
    admin,
    close: async () => {
      await pool.end();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    },
  };
}

/** A database of its own, for tests that need two databases (two store ids). */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  readonly pool: pg.Pool;
  close(): Promise<void>;
}

/** Creates a uniquely named database; `close` drops it, terminating any connection left on it. */
export async function openDatabase(config: pg.PoolConfig = {}): Promise<TestDatabase> {
  const name = uniqueName("lockstep_db");
  const admin = openPool({ max: 1 });
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } catch (error) {
    await admin.end();
    throw new Error(
      `Postgres at ${PG_URL} is required by this test and could not be used: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  const pool = openPool({ connectionString: url.toString(), ...config });
  return {
    name,
    url: url.toString(),
    pool,
    close: async () => {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
}

/**
 * Asserts, once the file has run, that the conformance `describe` named `suite` ran every case it
 * registered, that all passed, and that there are at least `atLeast` (the suite's size when this
 * adapter was written: a suite that silently lost cases must not pass), and prints the count.
 */
export function expectConformanceCases(suite: string, atLeast: number, label = "postgres"): void {
  // biome-ignore lint/correctness/noEmptyPattern: vitest requires the context to be destructured.
  afterAll(({}, file) => {
    const found = findSuite(file, suite);
    if (found === undefined) throw new Error(`No conformance suite named "${suite}" ran.`);
    const tests = collectTests(found);
    const selected = tests.filter((t) => t.mode === "run" || t.mode === "only").length;
    if (selected < tests.length) {
      // A run narrowed with -t or .only: the count says nothing about the suite then.
      console.log(
        `[${label}] ${suite}: ${selected} of ${tests.length} cases selected; count not checked`,
      );
      return;
    }
    const passed = tests.filter((t) => t.result?.state === "pass").length;
    console.log(`[${label}] ${suite}: ${tests.length} cases, ${passed} passed`);
    expect(tests.length, `the "${suite}" suite lost cases`).toBeGreaterThanOrEqual(atLeast);
    expect(passed, `every case of "${suite}" must pass`).toBe(tests.length);
  });
}

interface TaskLike {
  readonly type: string;
  readonly name: string;
  readonly mode?: string;
  readonly tasks?: readonly TaskLike[];
  readonly result?: { readonly state?: string } | undefined;
}

function findSuite(task: TaskLike, name: string): TaskLike | undefined {
  if (task.type === "suite" && task.name === name) return task;
  for (const child of task.tasks ?? []) {
    const found = findSuite(child, name);
    if (found !== undefined) return found;
  }
  return undefined;
}

function collectTests(task: TaskLike): TaskLike[] {
  if (task.type === "test") return [task];
  return (task.tasks ?? []).flatMap(collectTests);
}
