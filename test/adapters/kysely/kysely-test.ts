import Database from "better-sqlite3";
import { type Generated, Kysely, MysqlDialect, PostgresDialect, SqliteDialect, sql } from "kysely";
import type { Pool as CallbackPool } from "mysql2";
import { openDatabase } from "../mysql/mysql-test.js";
import { openSchema } from "../postgres/pg-test.js";
import { tempDatabase } from "../sqlite/temp-database.js";

/** The key/value table the suites write. */
export interface KvDatabase {
  kv: { key: string; value: string; version: Generated<number> };
}

const KV = sql`CREATE TABLE kv (key text PRIMARY KEY, value text NOT NULL, version integer NOT NULL DEFAULT 1)`;

/** A Kysely Postgres database on a fresh schema, with the kv table. */
export async function kyselyPgDatabase() {
  const schema = await openSchema();
  const db = new Kysely<KvDatabase>({ dialect: new PostgresDialect({ pool: schema.pool }) });
  await KV.execute(db);
  return { db, client: schema.pool, schema, close: () => schema.close() };
}

/**
 * A Kysely MySQL database on a fresh MySQL database of its own, with the kv table and the gate row
 * every transactional write locks first. `MysqlDialect` takes a `mysql2` callback pool: the test
 * pool's own.
 */
export async function kyselyMysqlDatabase() {
  const database = await openDatabase();
  const client = (database.pool as unknown as { pool: CallbackPool }).pool;
  const db = new Kysely<KvDatabase>({
    dialect: new MysqlDialect({ pool: client }),
  });
  await sql`CREATE TABLE kv (\`key\` VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL, version INT NOT NULL DEFAULT 1) ENGINE=InnoDB`.execute(
    db,
  );
  await sql`CREATE TABLE gate (id INT PRIMARY KEY) ENGINE=InnoDB`.execute(db);
  await sql`INSERT INTO gate (id) VALUES (1)`.execute(db);
  return { db, client, database, close: () => database.close() };
}

/** A Kysely SQLite database on a fresh temporary file, with the kv table. */
export async function kyselySqliteDatabase() {
  const temp = tempDatabase();
  const client = new Database(temp.file);
  const db = new Kysely<KvDatabase>({ dialect: new SqliteDialect({ database: client }) });
  await KV.execute(db);
  return {
    db,
    client,
    temp,
    close: async () => {
      await db.destroy();
      temp.remove();
    },
  };
}
