import {
  type MysqlHandle,
  type MysqlIsolation,
  mysqlStore,
} from "../../../src/adapters/mysql/index.js";
import { transactionConformance } from "../../conformance/transaction.js";
import { expectConformanceCases, openDatabase } from "./mysql-test.js";

for (const isolation of [undefined, "read committed", "serializable"] as const satisfies (
  | MysqlIsolation
  | undefined
)[]) {
  const name = `mysqlStore (${isolation ?? "session default"})`;
  transactionConformance<MysqlHandle>(name, async () => {
    const db = await openDatabase();
    const store = mysqlStore(db.pool, isolation === undefined ? {} : { isolation });
    await store.handle.query(
      "CREATE TABLE kv (k VARCHAR(64) PRIMARY KEY, v TEXT NOT NULL) ENGINE=InnoDB",
    );
    await store.handle.query("CREATE TABLE gate (id INT PRIMARY KEY) ENGINE=InnoDB");
    await store.handle.query("INSERT INTO gate (id) VALUES (1)");
    return {
      store,
      insert: async (handle, key, value) => {
        // As for Postgres: every insert first locks one gate row, which a transaction holds until it
        // ends, so a root-handle write queues behind an open transaction; one wrongly sent on the
        // transaction's own connection would hold the lock already and land at once, failing the
        // suite as it should.
        await handle.query("SELECT id FROM gate WHERE id = 1 FOR UPDATE");
        await handle.query("INSERT INTO kv (k, v) VALUES (?, ?)", [key, value]);
      },
      read: async (handle, key) =>
        (await handle.query<{ v: string }>("SELECT v FROM kv WHERE k = ?", [key])).rows[0]?.v,
      count: async () =>
        Number(
          (await store.handle.query<{ n: number }>("SELECT COUNT(*) AS n FROM kv")).rows[0]?.n ??
            -1,
        ),
      close: () => db.close(),
    };
  });
  expectConformanceCases(`transaction conformance: ${name}`, 9);
}
