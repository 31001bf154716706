import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";
import { expectConformanceCases as expectCases } from "../postgres/pg-test.js";

/** Where the tests find MySQL or MariaDB. Tests fail, never skip, when it cannot be reached. */
export const MYSQL_URL = process.env.LOCKSTEP_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";

/** A fresh identifier, unique across processes and runs. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString("hex")}`;
}

/** A promise pool on `database` (or on no database). */
export function openPool(database?: string, options: mysql.PoolOptions = {}): mysql.Pool {
  const url = new URL(MYSQL_URL);
  return mysql.createPool({
    host: url.hostname,
    port: url.port === "" ? 3306 : Number(url.port),
    user: decodeURIComponent(url.username) || "root",
    ...(url.password === "" ? {} : { password: decodeURIComponent(url.password) }),
    connectionLimit: 6,
    ...(database === undefined ? {} : { database }),
    ...options,
  });
}

/** A database of its own on the test server. */
export interface TestDatabase {
  readonly name: string;
  /** The database's URL, `mysql://root@127.0.0.1:3306/<name>`. */
  readonly url: string;
  readonly pool: mysql.Pool;
  /** A pool for setup and inspection, outside the code under test. */
  readonly admin: mysql.Pool;
  /** Ends the pools and drops the database with everything in it. */
  close(): Promise<void>;
}

/** Creates a uniquely named database; fails (rather than skips) when the server is unreachable. */
export async function openDatabase(options: mysql.PoolOptions = {}): Promise<TestDatabase> {
  const name = uniqueName("lockstep_t");
  const admin = openPool(undefined, { connectionLimit: 2 });
  try {
    await admin.query(`CREATE DATABASE \`${name}\``);
  } catch (error) {
    await admin.end();
    throw new Error(
      `MySQL at ${MYSQL_URL} is required by this test and could not be used: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const pool = openPool(name, options);
  const url = new URL(MYSQL_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    pool,
    admin,
    close: async () => {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await admin.end();
    },
  };
}

/** The conformance count check of the Postgres tests, labelled for MySQL. */
export function expectConformanceCases(suite: string, atLeast: number): void {
  expectCases(suite, atLeast, "mysql");
}
