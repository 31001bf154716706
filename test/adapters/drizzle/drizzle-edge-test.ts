import type { D1Database } from "@cloudflare/workers-types";
import { and, eq, sql } from "drizzle-orm";
import { drizzle as drizzleD1 } from "drizzle-orm/d1";
import { drizzle as drizzleLibsql } from "drizzle-orm/libsql";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import {
  type DrizzleHandle,
  type DrizzleStore,
  type DrizzleWrite,
  guarded,
} from "../../../src/adapters/drizzle/index.js";
import { testD1 } from "../d1/d1-test.js";
import { tempLibsql } from "../libsql/libsql-test.js";

/** The key/value table the suites write, on SQLite's dialect (libSQL and D1 alike). */
export const kv = sqliteTable("kv", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  version: integer("version").notNull().default(1),
});

const KV_DDL = sql`CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1)`;

/** A Drizzle libSQL database on a fresh local file in a temporary directory, with the kv table. */
export async function drizzleLibsqlDatabase() {
  const temp = await tempLibsql();
  const db = drizzleLibsql(temp.client, { schema: { kv } });
  await db.run(KV_DDL);
  return { db, client: temp.client, close: temp.close };
}

let d1Runs = 0;

/**
 * A Drizzle D1 database on the test file's Miniflare D1 database, with a fresh kv table (cases run
 * one at a time) and a table prefix of its own for lockstep's tables.
 */
export async function drizzleD1Database() {
  const binding = (await testD1()) as unknown as D1Database;
  const db = drizzleD1(binding, { schema: { kv } });
  await db.run(sql`DROP TABLE IF EXISTS kv`);
  await db.run(KV_DDL);
  return {
    db,
    binding,
    prefix: `dz${process.pid}_${++d1Runs}_`,
    close: async () => {
      await db.run(sql`DROP TABLE IF EXISTS kv`);
    },
  };
}

type LibsqlDb = Awaited<ReturnType<typeof drizzleLibsqlDatabase>>["db"];
type D1Db = Awaited<ReturnType<typeof drizzleD1Database>>["db"];
/** A Drizzle SQLite database on libSQL or D1. */
export type EdgeDb = LibsqlDb | D1Db;

// Versions come from one counter that is never reset, so no row is given a version twice.
let lastVersion = 0;

/**
 * The suites' prepared writes on the kv table, each returning the version it wrote; a write with a
 * precondition is marked `guarded`, so that in a batch a guard that does not hold applies nothing.
 */
export function kvWrites<Db extends EdgeDb>() {
  type Write = DrizzleWrite<Db>;
  type Handle = DrizzleHandle<LibsqlDb>;
  const returning = { version: kv.version };
  const put = (key: string, value: unknown, ifVersion?: number | "absent"): Write => {
    const row = { key, value: JSON.stringify(value), version: ++lastVersion };
    const set = { value: row.value, version: row.version };
    const write = (h: Handle) => {
      if (ifVersion === undefined) {
        return h
          .insert(kv)
          .values(row)
          .onConflictDoUpdate({ target: kv.key, set })
          .returning(returning);
      }
      if (ifVersion === "absent") {
        return guarded(h.insert(kv).values(row).onConflictDoNothing().returning(returning));
      }
      return guarded(
        h
          .update(kv)
          .set(set)
          .where(and(eq(kv.key, key), eq(kv.version, ifVersion)))
          .returning(returning),
      );
    };
    // The query builders are SQLite's on both drivers.
    return write as unknown as Write;
  };
  const remove = (key: string, ifVersion: number): Write =>
    ((h: Handle) =>
      guarded(
        h.delete(kv).where(and(eq(kv.key, key), eq(kv.version, ifVersion))),
      )) as unknown as Write;
  return { put, remove };
}

/** The version a write of {@link kvWrites} returned, or `null` when it wrote nothing. */
export function versionOf(result: unknown): number | null {
  return (result as { version?: number }[])[0]?.version ?? null;
}

/** Reads `key` of the kv table through a Drizzle handle. */
export async function readKv(
  handle: Pick<DrizzleHandle<LibsqlDb>, "select">,
  key: string,
): Promise<{ value: unknown; version: number } | undefined> {
  const [row] = await handle.select().from(kv).where(eq(kv.key, key));
  return row && { value: JSON.parse(row.value), version: row.version };
}

/** Makes every insert of `key` into the kv table fail: a trigger raises an error for it. */
export async function refuseKey(db: EdgeDb, key: string): Promise<void> {
  const name = `refuse_${key.replace(/\W/g, "_")}`;
  await db.run(
    sql.raw(
      `CREATE TRIGGER ${name} BEFORE INSERT ON kv WHEN NEW.key = '${key}' BEGIN SELECT RAISE(ABORT, 'refused key'); END`,
    ),
  );
}

/**
 * The conditional-write and atomic-batch suites' fixture over a store on `db`: the kv table's
 * prepared writes, reads through the store's root handle, and refusals by trigger.
 */
export function kvFixture<Db extends EdgeDb>(
  opened: { readonly db: Db; close(): Promise<void> },
  store: DrizzleStore<Db>,
) {
  return {
    store,
    ...kvWrites<Db>(),
    versionOf,
    read: (key: string) => readKv(store.handle, key),
    refuse: (key: string) => refuseKey(opened.db, key),
    close: () => opened.close(),
  };
}
