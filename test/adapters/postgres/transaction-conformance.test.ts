import {
  type PostgresHandle,
  type PostgresIsolation,
  postgresStore,
} from "../../../src/adapters/postgres/index.js";
import { transactionConformance } from "../../conformance/transaction.js";
import { expectConformanceCases, openSchema } from "./pg-test.js";

for (const isolation of ["read committed", "serializable"] as const satisfies PostgresIsolation[]) {
  const name = `postgresStore (${isolation})`;
  transactionConformance<PostgresHandle>(name, async () => {
    const db = await openSchema();
    const store = postgresStore(db.pool, { isolation });
    await store.handle.query("CREATE TABLE kv (key text PRIMARY KEY, value text NOT NULL)");
    return {
      store,
      insert: async (handle, key, value) => {
        // Postgres never joins a root-handle write to a transaction (it runs on another pooled
        // connection), and under MVCC such a write would not wait for the transaction either. The
        // suite detects joining by requiring the wait, so a transactional insert here takes a lock
        // that other connections' writes queue behind: a write wrongly sent on the transaction's own
        // connection would hold the lock already and land at once, failing the suite as it should.
        if (handle.savepoint !== undefined) await handle.query("LOCK TABLE kv IN EXCLUSIVE MODE");
        await handle.query("INSERT INTO kv (key, value) VALUES ($1, $2)", [key, value]);
      },
      read: async (handle, key) =>
        (await handle.query<{ value: string }>("SELECT value FROM kv WHERE key = $1", [key]))
          .rows[0]?.value,
      count: async () =>
        Number(
          (await store.handle.query<{ n: string }>("SELECT count(*) AS n FROM kv")).rows[0]?.n ??
            -1,
        ),
      close: () => db.close(),
    };
  });
  expectConformanceCases(`transaction conformance: ${name}`, 9);
}
