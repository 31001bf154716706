import Database from "better-sqlite3";
import { sql } from "drizzle-orm";
import { drizzle as drizzleSqlite } from "drizzle-orm/better-sqlite3";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { integer as pgInteger, pgTable, text as pgText } from "drizzle-orm/pg-core";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { openSchema } from "../postgres/pg-test.js";
import { tempDatabase } from "../sqlite/temp-database.js";

/** The key/value table the suites write, in each dialect. */
export const pgKv = pgTable("kv", {
  key: pgText("key").primaryKey(),
  value: pgText("value").notNull(),
  version: pgInteger("version").notNull().default(1),
});
export const sqliteKv = sqliteTable("kv", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  version: integer("version").notNull().default(1),
});

/** A Drizzle node-postgres database on a fresh schema, with the kv table. */
export async function drizzlePgDatabase() {
  const schema = await openSchema();
  const db = drizzlePg(schema.pool, { schema: { kv: pgKv } });
  await db.execute(
    sql`CREATE TABLE kv (key text PRIMARY KEY, value text NOT NULL, version integer NOT NULL DEFAULT 1)`,
  );
  return { db, schema, close: () => schema.close() };
}

/** A Drizzle better-sqlite3 database on a fresh temporary file, with the kv table. */
export function drizzleSqliteDatabase() {
  const temp = tempDatabase();
  const client = new Database(temp.file);
  client.pragma("journal_mode = WAL");
  const db = drizzleSqlite(client, { schema: { kv: sqliteKv } });
  db.run(
    sql`CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1)`,
  );
  return {
    db,
    temp,
    close: () => {
      client.close();
      temp.remove();
    },
  };
}
