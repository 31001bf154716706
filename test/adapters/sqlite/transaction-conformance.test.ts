import { createMemoryStore, type MemoryHandle } from "../../../src/adapters/memory/index.js";
import { openSqlite, type SqliteHandle, sqliteStore } from "../../../src/adapters/sqlite/index.js";
import { transactionConformance } from "../../conformance/transaction.js";
import { tempDatabase } from "./temp-database.js";

const KV = "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)";

function sqliteFixture(db: ReturnType<typeof openSqlite>, cleanup: () => void) {
  const store = sqliteStore(db);
  return {
    store,
    insert: async (handle: SqliteHandle, key: string, value: string) => {
      await handle.run("INSERT INTO kv (key, value) VALUES (?, ?)", [key, value]);
    },
    read: async (handle: SqliteHandle, key: string) =>
      (await handle.get<{ value: string }>("SELECT value FROM kv WHERE key = ?", [key]))?.value,
    count: async () =>
      (await store.handle.get<{ n: number }>("SELECT count(*) AS n FROM kv"))?.n ?? -1,
    close: async () => cleanup(),
  };
}

transactionConformance<SqliteHandle>("sqliteStore on a file database", async () => {
  const temp = tempDatabase();
  await sqliteStore(temp.db).handle.run(KV);
  return sqliteFixture(temp.db, temp.remove);
});

transactionConformance<SqliteHandle>("sqliteStore on an in-memory database", async () => {
  const db = openSqlite(":memory:");
  await sqliteStore(db).handle.run(KV);
  return sqliteFixture(db, () => db.close());
});

// The reference transactional store: it proves the suite itself asks only what the core relies on.
transactionConformance<MemoryHandle>("memory store (transactional tier)", async () => {
  const store = createMemoryStore({ tier: "transactional" });
  return {
    store,
    insert: async (handle, key, value) => {
      await handle.put(key, value);
    },
    read: async (handle, key) => (await handle.get(key))?.value as string | undefined,
    count: async () => (await store.handle.list()).length,
    close: async () => {},
  };
});
