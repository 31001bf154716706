import Database from "better-sqlite3";
import { type Generated, Kysely, PostgresDialect, SqliteDialect, sql } from "kysely";
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
