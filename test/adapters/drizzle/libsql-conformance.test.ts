import { count, eq } from "drizzle-orm";
import { drizzleSagaLog, drizzleStore } from "../../../src/adapters/drizzle/index.js";
import { atomicBatchConformance } from "../../conformance/atomic-batch.js";
import { conditionalWriteConformance } from "../../conformance/conditional-write.js";
import { sagaLogConformance } from "../../conformance/saga-log.js";
import { transactionConformance } from "../../conformance/transaction.js";
import { expectConformanceCases } from "../postgres/pg-test.js";
import { drizzleLibsqlDatabase, kv, kvFixture } from "./drizzle-edge-test.js";
import { unwrapped } from "./drizzle-test.js";

const NAME = "drizzleStore on libSQL (local file)";

async function fixture() {
  const opened = await drizzleLibsqlDatabase();
  return kvFixture(opened, drizzleStore(opened.db, { id: "kv-libsql", versionsNeverReused: true }));
}

conditionalWriteConformance(NAME, fixture);
expectConformanceCases(`conditional-write conformance: ${NAME}`, 11, "drizzle");

atomicBatchConformance(NAME, fixture);
expectConformanceCases(`atomic-batch conformance: ${NAME}`, 10, "drizzle");

transactionConformance(NAME, async () => {
  const opened = await drizzleLibsqlDatabase();
  const store = drizzleStore(opened.db, { id: "kv-libsql" });
  return {
    store,
    insert: (handle, key, value) =>
      unwrapped(async () => {
        await handle.insert(kv).values({ key, value });
      }),
    read: async (handle, key) => (await handle.select().from(kv).where(eq(kv.key, key)))[0]?.value,
    count: async () => (await store.handle.select({ n: count() }).from(kv))[0]?.n ?? -1,
    close: opened.close,
  };
});
expectConformanceCases(`transaction conformance: ${NAME}`, 9, "drizzle");

sagaLogConformance("drizzleSagaLog on libSQL (local file)", async () => {
  const opened = await drizzleLibsqlDatabase();
  const store = drizzleStore(opened.db, { id: "kv-libsql" });
  return { log: drizzleSagaLog(opened.db, { store }), close: opened.close };
});
expectConformanceCases("SagaLog conformance: drizzleSagaLog on libSQL (local file)", 27, "drizzle");
