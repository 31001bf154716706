import Database from "better-sqlite3";
import { sql } from "drizzle-orm";
import { drizzle as drizzleSqlite } from "drizzle-orm/better-sqlite3";
import { int as mysqlInt, mysqlTable, text as mysqlText, varchar } from "drizzle-orm/mysql-core";
import { drizzle as drizzleMysql } from "drizzle-orm/mysql2";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { integer as pgInteger, pgTable, text as pgText } from "drizzle-orm/pg-core";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { StoreError } from "../../../src/core/error-kinds.js";
import { openDatabase } from "../mysql/mysql-test.js";
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

export const mysqlKv = mysqlTable("kv", {
  key: varchar("key", { length: 64 }).primaryKey(),
  value: mysqlText("value").notNull(),
  version: mysqlInt("version").notNull().default(1),
});
/** One row every transactional write locks first, so root writes queue behind an open transaction. */
export const mysqlGate = mysqlTable("gate", { id: mysqlInt("id").primaryKey() });

/** A Drizzle mysql2 database on a fresh MySQL database of its own, with the kv and gate tables. */
export async function drizzleMysqlDatabase() {
  const database = await openDatabase();
  const db = drizzleMysql(database.pool, { schema: { kv: mysqlKv }, mode: "default" });
  await db.execute(
    sql`CREATE TABLE kv (\`key\` VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL, version INT NOT NULL DEFAULT 1) ENGINE=InnoDB`,
  );
  await db.execute(sql`CREATE TABLE gate (id INT PRIMARY KEY) ENGINE=InnoDB`);
  await db.execute(sql`INSERT INTO gate (id) VALUES (1)`);
  return { db, database, close: () => database.close() };
}

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

/**
 * Runs a fixture's Drizzle statements, rethrowing a `StoreError` Drizzle wrapped: Drizzle's
 * sessions wrap every error of a query in a `DrizzleQueryError` that keeps it as `cause`; the core
 * walks causes, the transaction suite's `storeFailure` looks at the error itself.
 */
export async function unwrapped(run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    throw StoreError.is(cause) ? cause : error;
  }
}

/** The first error in `error`'s cause chain that `match` accepts. */
export function causeWhere(error: unknown, match: (e: unknown) => boolean): unknown {
  for (let current = error, depth = 0; current != null && depth < 16; depth++) {
    if (match(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** What `call` rejects with; fails the test if it resolves. */
export async function rejectionOf(call: () => PromiseLike<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error("Expected the call to reject, but it resolved.");
}
