import { expect, it } from "vitest";
import { drizzleStore } from "../../src/adapters/drizzle/index.js";
import { kyselyStore } from "../../src/adapters/kysely/index.js";
import { StoreError } from "../../src/core/error-kinds.js";
import { openScope } from "../conformance/transaction.js";
import {
  drizzleMysqlDatabase,
  drizzlePgDatabase,
  drizzleSqliteDatabase,
  mysqlKv,
  pgKv,
  sqliteKv,
} from "./drizzle/drizzle-test.js";
import {
  kyselyMysqlDatabase,
  kyselyPgDatabase,
  kyselySqliteDatabase,
} from "./kysely/kysely-test.js";

/**
 * A write whose call was aborted before the store sent it is provably not applied: every Drizzle
 * and Kysely store refuses it as `not_committed` and sends nothing, so a runner may retry or
 * compensate without probing.
 */

interface Case {
  readonly name: string;
  /** Applies an insert of `key` through the store's `apply` under an aborted scope. */
  open(): Promise<{
    applyAborted: (key: string) => Promise<unknown>;
    rows: (key: string) => Promise<number>;
    close: () => Promise<void> | void;
  }>;
}

const aborted = () => {
  const { scope, controller } = openScope();
  controller.abort(new Error("the caller gave up"));
  return scope;
};

const CASES: readonly Case[] = [
  {
    name: "Drizzle on better-sqlite3",
    open: async () => {
      const opened = drizzleSqliteDatabase();
      const store = drizzleStore(opened.db, { id: "kv" });
      return {
        applyAborted: (key) =>
          store.apply(
            store.handle,
            (db) => db.insert(sqliteKv).values({ key, value: "v" }),
            aborted(),
          ),
        rows: async (key) =>
          (await opened.db.select().from(sqliteKv)).filter((r) => r.key === key).length,
        close: () => {
          store.close();
          opened.close();
        },
      };
    },
  },
  {
    name: "Drizzle on node-postgres",
    open: async () => {
      const opened = await drizzlePgDatabase();
      const store = drizzleStore(opened.db, { id: "kv" });
      return {
        applyAborted: (key) =>
          store.apply(store.handle, (db) => db.insert(pgKv).values({ key, value: "v" }), aborted()),
        rows: async (key) =>
          (await opened.db.select().from(pgKv)).filter((r) => r.key === key).length,
        close: () => opened.close(),
      };
    },
  },
  {
    name: "Drizzle on mysql2",
    open: async () => {
      const opened = await drizzleMysqlDatabase();
      const store = drizzleStore(opened.db, { id: "kv" });
      return {
        applyAborted: (key) =>
          store.apply(
            store.handle,
            (db) => db.insert(mysqlKv).values({ key, value: "v" }),
            aborted(),
          ),
        rows: async (key) =>
          (await opened.db.select().from(mysqlKv)).filter((r) => r.key === key).length,
        close: () => opened.close(),
      };
    },
  },
  ...(
    [
      ["Kysely on SQLite", kyselySqliteDatabase],
      ["Kysely on Postgres", kyselyPgDatabase],
      ["Kysely on MySQL", kyselyMysqlDatabase],
    ] as const
  ).map(
    ([name, openDb]): Case => ({
      name,
      open: async () => {
        const opened = await openDb();
        const store = kyselyStore(opened.db, { id: "kv", client: opened.client as never });
        return {
          applyAborted: (key) =>
            store.apply(
              store.handle,
              (db) => db.insertInto("kv").values({ key, value: "v", version: 1 }).execute(),
              aborted(),
            ),
          rows: async (key) =>
            (await opened.db.selectFrom("kv").selectAll().where("key", "=", key).execute()).length,
          close: () => opened.close(),
        };
      },
    }),
  ),
];

it("every ORM store refuses a write aborted before it was sent, as not_committed, and sends nothing", async () => {
  let ran = 0;
  for (const c of CASES) {
    const opened = await c.open();
    try {
      const error = await opened.applyAborted("k-1").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(StoreError.is(error), `${c.name}: ${String(error)}`).toBe(true);
      expect((error as StoreError).kind, c.name).toBe("not_committed");
      expect(await opened.rows("k-1"), `${c.name}: the write was sent`).toBe(0);
      ran++;
    } finally {
      await opened.close();
    }
  }
  expect(ran).toBe(6);
});
