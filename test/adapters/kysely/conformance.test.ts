import { type Kysely, sql } from "kysely";
import {
  type KyselyWrite,
  kyselySagaLog,
  kyselyStore,
} from "../../../src/adapters/kysely/index.js";
import { conditionalWriteConformance } from "../../conformance/conditional-write.js";
import { sagaLogConformance } from "../../conformance/saga-log.js";
import { transactionConformance } from "../../conformance/transaction.js";
import { expectConformanceCases } from "../postgres/pg-test.js";
import {
  type KvDatabase,
  kyselyMysqlDatabase,
  kyselyPgDatabase,
  kyselySqliteDatabase,
} from "./kysely-test.js";

type Handle = Kysely<KvDatabase>;
const DIALECTS = [
  ["Postgres", kyselyPgDatabase],
  ["SQLite", kyselySqliteDatabase],
  ["MySQL", kyselyMysqlDatabase],
] as const;

// Versions come from one counter that is never reset: what `versionsNeverReused` declares.
let lastVersion = 0;

for (const [dialect, open] of DIALECTS) {
  const name = `kyselyStore on ${dialect}`;
  transactionConformance<Handle>(name, async () => {
    const opened = await open();
    const store = kyselyStore(opened.db, { id: "kv-db", client: opened.client });
    return {
      store,
      insert: async (handle, key, value) => {
        // As in postgresStore's suite: a transactional insert takes a lock other connections'
        // writes queue behind, so a root write wrongly joined to the transaction lands at once.
        if (dialect === "Postgres" && handle.isTransaction) {
          await sql`LOCK TABLE kv IN EXCLUSIVE MODE`.execute(handle);
        }
        // As in mysqlStore's suite: every MySQL insert first locks the gate row, which a
        // transaction holds until it ends.
        if (dialect === "MySQL")
          await sql`SELECT id FROM gate WHERE id = 1 FOR UPDATE`.execute(handle);
        await handle.insertInto("kv").values({ key, value }).execute();
      },
      read: async (handle, key) =>
        (await handle.selectFrom("kv").select("value").where("key", "=", key).executeTakeFirst())
          ?.value,
      count: async () =>
        Number(
          (
            await store.handle
              .selectFrom("kv")
              .select((eb) => eb.fn.countAll().as("n"))
              .executeTakeFirstOrThrow()
          ).n,
        ),
      close: async () => {
        store.close();
        await opened.close();
      },
    };
  });
  expectConformanceCases(`transaction conformance: ${name}`, 9);

  conditionalWriteConformance<Handle, KyselyWrite<KvDatabase>, unknown, number>(name, async () => {
    const opened = await open();
    const store = kyselyStore(opened.db, {
      id: "kv-db",
      client: opened.client,
      versionsNeverReused: true,
    });
    return {
      store,
      put: (key, value, ifVersion) => {
        const row = { key, value: JSON.stringify(value), version: ++lastVersion };
        const set = { value: row.value, version: row.version };
        if (ifVersion === "absent" && dialect === "MySQL") {
          return (db) => db.insertInto("kv").ignore().values(row).executeTakeFirst();
        }
        if (ifVersion === undefined && dialect === "MySQL") {
          // MySQL counts a row an upsert updated twice (1 inserted, 2 updated): an unconditional
          // put changes one row either way, as the suite counts it.
          return async (db) => {
            const result = await db
              .insertInto("kv")
              .values(row)
              .onDuplicateKeyUpdate(set)
              .executeTakeFirst();
            return { numInsertedOrUpdatedRows: result.numInsertedOrUpdatedRows === 0n ? 0n : 1n };
          };
        }
        if (ifVersion === "absent") {
          return (db) =>
            db
              .insertInto("kv")
              .values(row)
              .onConflict((oc) => oc.column("key").doNothing())
              .executeTakeFirst();
        }
        if (ifVersion === undefined) {
          return (db) =>
            db
              .insertInto("kv")
              .values(row)
              .onConflict((oc) => oc.column("key").doUpdateSet(set))
              .executeTakeFirst();
        }
        return (db) =>
          db
            .updateTable("kv")
            .set(set)
            .where("key", "=", key)
            .where("version", "=", ifVersion)
            .executeTakeFirst();
      },
      remove: (key, ifVersion) => (db) =>
        db
          .deleteFrom("kv")
          .where("key", "=", key)
          .where("version", "=", ifVersion)
          .executeTakeFirst(),
      read: async (key) => {
        const row = await store.handle
          .selectFrom("kv")
          .selectAll()
          .where("key", "=", key)
          .executeTakeFirst();
        return row && { value: JSON.parse(row.value), version: Number(row.version) };
      },
      close: async () => {
        store.close();
        await opened.close();
      },
    };
  });
  expectConformanceCases(`conditional-write conformance: ${name}`, 11);

  sagaLogConformance(`kyselySagaLog on ${dialect}`, async () => {
    const opened = await open();
    const store = kyselyStore(opened.db, { client: opened.client });
    const log = kyselySagaLog(opened.db, {
      client: opened.client,
      store,
      ...("schema" in opened ? { schema: opened.schema.schema } : {}),
    });
    return {
      log,
      close: async () => {
        store.close();
        await opened.close();
      },
    };
  });
  expectConformanceCases(`SagaLog conformance: kyselySagaLog on ${dialect}`, 26);
}
