import { drizzleSagaLog, drizzleStore } from "../../../src/adapters/drizzle/index.js";
import { atomicBatchConformance } from "../../conformance/atomic-batch.js";
import { conditionalWriteConformance } from "../../conformance/conditional-write.js";
import { fenceTokenConformance } from "../../conformance/fence-token.js";
import { sagaLogConformance } from "../../conformance/saga-log.js";
import { expectConformanceCases } from "../postgres/pg-test.js";
import { drizzleD1Database, kvFixture, readKv } from "./drizzle-edge-test.js";

const NAME = "drizzleStore on D1 (Miniflare)";

async function fixture() {
  const opened = await drizzleD1Database();
  const options = { id: "kv-d1", tablePrefix: opened.prefix, versionsNeverReused: true };
  return kvFixture(opened, drizzleStore(opened.db, options));
}

conditionalWriteConformance(NAME, fixture);
expectConformanceCases(`conditional-write conformance: ${NAME}`, 11, "drizzle");

atomicBatchConformance(NAME, fixture);
expectConformanceCases(`atomic-batch conformance: ${NAME}`, 10, "drizzle");

fenceTokenConformance(NAME, async () => {
  const opened = await fixture();
  return {
    store: opened.store,
    put: (key: string, value: unknown) => opened.put(key, value),
    read: async (handle, key) => (await readKv(handle, key))?.value,
    close: opened.close,
  };
});
expectConformanceCases(`fence-token conformance: ${NAME}`, 8, "drizzle");

sagaLogConformance("drizzleSagaLog on D1 (Miniflare)", async () => {
  const opened = await drizzleD1Database();
  // Tables of its own per case: the suite expects an empty log.
  return { log: drizzleSagaLog(opened.db, { tablePrefix: opened.prefix }), close: opened.close };
});
expectConformanceCases("SagaLog conformance: drizzleSagaLog on D1 (Miniflare)", 27, "drizzle");
