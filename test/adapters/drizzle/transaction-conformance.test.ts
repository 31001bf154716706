import { count, eq } from "drizzle-orm";
import { drizzleStore } from "../../../src/adapters/drizzle/index.js";
import { transactionConformance } from "../../conformance/transaction.js";
import { expectConformanceCases } from "../postgres/pg-test.js";
import {
  drizzleMysqlDatabase,
  drizzlePgDatabase,
  drizzleSqliteDatabase,
  mysqlGate,
  mysqlKv,
  pgKv,
  sqliteKv,
  unwrapped,
} from "./drizzle-test.js";

const PG = "drizzleStore on node-postgres";
transactionConformance(PG, async () => {
  const opened = await drizzlePgDatabase();
  const store = drizzleStore(opened.db, { id: "kv-db" });
  return {
    store,
    insert: async (handle, key, value) => {
      // As in postgresStore's suite: a transactional insert takes a lock other connections' writes
      // queue behind, so a root write wrongly joined to the transaction would land at once.
      await unwrapped(async () => {
        if (handle !== store.handle) await handle.execute("LOCK TABLE kv IN EXCLUSIVE MODE");
        await handle.insert(pgKv).values({ key, value });
      });
    },
    read: async (handle, key) =>
      (await handle.select().from(pgKv).where(eq(pgKv.key, key)))[0]?.value,
    count: async () => (await store.handle.select({ n: count() }).from(pgKv))[0]?.n ?? -1,
    close: () => opened.close(),
  };
});
expectConformanceCases(`transaction conformance: ${PG}`, 9);

const SQLITE = "drizzleStore on better-sqlite3";
transactionConformance(SQLITE, async () => {
  const opened = drizzleSqliteDatabase();
  const store = drizzleStore(opened.db, { id: "kv-db" });
  return {
    store,
    insert: async (handle, key, value) => {
      await handle.insert(sqliteKv).values({ key, value });
    },
    read: async (handle, key) =>
      (await handle.select().from(sqliteKv).where(eq(sqliteKv.key, key)))[0]?.value,
    count: async () => (await store.handle.select({ n: count() }).from(sqliteKv))[0]?.n ?? -1,
    close: async () => {
      store.close();
      opened.close();
    },
  };
});
expectConformanceCases(`transaction conformance: ${SQLITE}`, 9);

const MYSQL = "drizzleStore on mysql2";
transactionConformance(MYSQL, async () => {
  const opened = await drizzleMysqlDatabase();
  const store = drizzleStore(opened.db, { id: "kv-db" });
  return {
    store,
    insert: async (handle, key, value) => {
      // As in mysqlStore's suite: every insert first locks the gate row, which a transaction holds
      // until it ends, so a root write wrongly joined to the transaction would land at once.
      await unwrapped(async () => {
        await handle.select().from(mysqlGate).where(eq(mysqlGate.id, 1)).for("update");
        await handle.insert(mysqlKv).values({ key, value });
      });
    },
    read: async (handle, key) =>
      (await handle.select().from(mysqlKv).where(eq(mysqlKv.key, key)))[0]?.value,
    count: async () => (await store.handle.select({ n: count() }).from(mysqlKv))[0]?.n ?? -1,
    close: () => opened.close(),
  };
});
expectConformanceCases(`transaction conformance: ${MYSQL}`, 9);
