import { and, eq } from "drizzle-orm";
import {
  type DrizzleHandle,
  type DrizzleWrite,
  drizzleSagaLog,
  drizzleStore,
} from "../../../src/adapters/drizzle/index.js";
import { conditionalWriteConformance } from "../../conformance/conditional-write.js";
import { sagaLogConformance } from "../../conformance/saga-log.js";
import { expectConformanceCases } from "../postgres/pg-test.js";
import {
  drizzleMysqlDatabase,
  drizzlePgDatabase,
  drizzleSqliteDatabase,
  mysqlKv,
  pgKv,
  sqliteKv,
} from "./drizzle-test.js";

type PgDb = Awaited<ReturnType<typeof drizzlePgDatabase>>["db"];
type MysqlDb = Awaited<ReturnType<typeof drizzleMysqlDatabase>>["db"];
type SqliteDb = ReturnType<typeof drizzleSqliteDatabase>["db"];

// Versions come from one counter that is never reset, so no row is given a version twice: what
// the store is then told it may declare (`versionsNeverReused`).
let lastVersion = 0;
const nextVersion = () => ++lastVersion;
const rowOf = (key: string, value: unknown) => ({
  key,
  value: JSON.stringify(value),
  version: nextVersion(),
});

const PG = "drizzleStore on node-postgres";
conditionalWriteConformance<DrizzleHandle<PgDb>, DrizzleWrite<PgDb>, unknown, number>(
  PG,
  async () => {
    const opened = await drizzlePgDatabase();
    const store = drizzleStore(opened.db, { id: "kv-db", versionsNeverReused: true });
    return {
      store,
      put: (key, value, ifVersion) => {
        const row = rowOf(key, value);
        const set = { value: row.value, version: row.version };
        if (ifVersion === "absent")
          return (tx) => tx.insert(pgKv).values(row).onConflictDoNothing();
        if (ifVersion === undefined) {
          return (tx) => tx.insert(pgKv).values(row).onConflictDoUpdate({ target: pgKv.key, set });
        }
        return (tx) =>
          tx
            .update(pgKv)
            .set(set)
            .where(and(eq(pgKv.key, key), eq(pgKv.version, ifVersion)));
      },
      remove: (key, ifVersion) => (tx) =>
        tx.delete(pgKv).where(and(eq(pgKv.key, key), eq(pgKv.version, ifVersion))),
      read: async (key) => {
        const [row] = await store.handle.select().from(pgKv).where(eq(pgKv.key, key));
        return row && { value: JSON.parse(row.value), version: row.version };
      },
      close: () => opened.close(),
    };
  },
);
expectConformanceCases(`conditional-write conformance: ${PG}`, 11);

const SQLITE = "drizzleStore on better-sqlite3";
conditionalWriteConformance<DrizzleHandle<SqliteDb>, DrizzleWrite<SqliteDb>, unknown, number>(
  SQLITE,
  async () => {
    const opened = drizzleSqliteDatabase();
    const store = drizzleStore(opened.db, { id: "kv-db", versionsNeverReused: true });
    return {
      store,
      put: (key, value, ifVersion) => {
        const row = rowOf(key, value);
        const set = { value: row.value, version: row.version };
        if (ifVersion === "absent") {
          return (tx) => tx.insert(sqliteKv).values(row).onConflictDoNothing();
        }
        if (ifVersion === undefined) {
          return (tx) =>
            tx.insert(sqliteKv).values(row).onConflictDoUpdate({ target: sqliteKv.key, set });
        }
        return (tx) =>
          tx
            .update(sqliteKv)
            .set(set)
            .where(and(eq(sqliteKv.key, key), eq(sqliteKv.version, ifVersion)));
      },
      remove: (key, ifVersion) => (tx) =>
        tx.delete(sqliteKv).where(and(eq(sqliteKv.key, key), eq(sqliteKv.version, ifVersion))),
      read: async (key) => {
        const [row] = await store.handle.select().from(sqliteKv).where(eq(sqliteKv.key, key));
        return row && { value: JSON.parse(row.value), version: row.version };
      },
      close: async () => {
        store.close();
        opened.close();
      },
    };
  },
);
expectConformanceCases(`conditional-write conformance: ${SQLITE}`, 11);

sagaLogConformance("drizzleSagaLog on node-postgres", async () => {
  const opened = await drizzlePgDatabase();
  return {
    log: drizzleSagaLog(opened.db, { schema: opened.schema.schema }),
    close: () => opened.close(),
  };
});
expectConformanceCases("SagaLog conformance: drizzleSagaLog on node-postgres", 26);

sagaLogConformance("drizzleSagaLog on better-sqlite3", async () => {
  const opened = drizzleSqliteDatabase();
  const store = drizzleStore(opened.db);
  return {
    log: drizzleSagaLog(opened.db, { store }),
    close: async () => {
      store.close();
      opened.close();
    },
  };
});
expectConformanceCases("SagaLog conformance: drizzleSagaLog on better-sqlite3", 26);

const MYSQL = "drizzleStore on mysql2";
conditionalWriteConformance<DrizzleHandle<MysqlDb>, DrizzleWrite<MysqlDb>, unknown, number>(
  MYSQL,
  async () => {
    const opened = await drizzleMysqlDatabase();
    const store = drizzleStore(opened.db, { id: "kv-db", versionsNeverReused: true });
    return {
      store,
      put: (key, value, ifVersion) => {
        const row = rowOf(key, value);
        const set = { value: row.value, version: row.version };
        if (ifVersion === "absent") return (tx) => tx.insert(mysqlKv).ignore().values(row);
        if (ifVersion === undefined) {
          // MySQL counts a row an upsert updated twice (1 inserted, 2 updated): an unconditional
          // put changes one row either way, as the suite counts it.
          return (tx) =>
            tx
              .insert(mysqlKv)
              .values(row)
              .onDuplicateKeyUpdate({ set })
              .then(([header]) => [{ ...header, affectedRows: Math.min(header.affectedRows, 1) }]);
        }
        return (tx) =>
          tx
            .update(mysqlKv)
            .set(set)
            .where(and(eq(mysqlKv.key, key), eq(mysqlKv.version, ifVersion)));
      },
      remove: (key, ifVersion) => (tx) =>
        tx.delete(mysqlKv).where(and(eq(mysqlKv.key, key), eq(mysqlKv.version, ifVersion))),
      read: async (key) => {
        const [row] = await store.handle.select().from(mysqlKv).where(eq(mysqlKv.key, key));
        return row && { value: JSON.parse(row.value), version: row.version };
      },
      close: () => opened.close(),
    };
  },
);
expectConformanceCases(`conditional-write conformance: ${MYSQL}`, 11);

sagaLogConformance("drizzleSagaLog on mysql2", async () => {
  const opened = await drizzleMysqlDatabase();
  const store = drizzleStore(opened.db);
  return { log: drizzleSagaLog(opened.db, { store }), close: () => opened.close() };
});
expectConformanceCases("SagaLog conformance: drizzleSagaLog on mysql2", 26);
