import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";

/** Where the benchmarks find MySQL or MariaDB; the same variable the tests read. */
export const MYSQL_URL = process.env.LOCKSTEP_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";

/** A small promise pool on `database` (or on none). */
export function openMysqlPool(database?: string, connectionLimit = 20): mysql.Pool {
  const url = new URL(MYSQL_URL);
  return mysql.createPool({
    host: url.hostname,
    port: url.port === "" ? 3306 : Number(url.port),
    user: decodeURIComponent(url.username) || "root",
    ...(url.password === "" ? {} : { password: decodeURIComponent(url.password) }),
    connectionLimit,
    ...(database === undefined ? {} : { database }),
  });
}

/** A database made for one workload and dropped after it. */
export interface MysqlBenchDatabase {
  readonly name: string;
  drop(): Promise<void>;
}

/** Creates a uniquely named database, so parallel runs and crashed runs never collide. */
export async function createMysqlDatabase(label: string): Promise<MysqlBenchDatabase> {
  const name = `lockstep_bench_${label}_${process.pid}_${randomBytes(3).toString("hex")}`;
  const admin = openMysqlPool(undefined, 1);
  await admin.query(`CREATE DATABASE \`${name}\``);
  return {
    name,
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await admin.end();
    },
  };
}
