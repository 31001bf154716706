import {
  type D1Handle,
  type D1Write,
  type D1WriteResult,
  d1Store,
} from "../../../src/adapters/d1/index.js";
import { atomicBatchConformance } from "../../conformance/atomic-batch.js";
import { conditionalWriteConformance } from "../../conformance/conditional-write.js";
import { fenceTokenConformance } from "../../conformance/fence-token.js";
import { kvTable, testD1 } from "./d1-test.js";

let fixtures = 0;

async function d1Fixture() {
  const db = await testD1();
  const kv = await kvTable(db);
  // A prefix per fixture, so each has fences of its own.
  const store = d1Store(db, {
    id: "kv-d1",
    tablePrefix: `f${++fixtures}_`,
    versionsNeverReused: true,
  });
  return {
    kv,
    store,
    put: (key: string, value: unknown, ifVersion?: number | "absent") =>
      kv.put(key, value, ifVersion),
    remove: (key: string, ifVersion: number) => kv.remove(key, ifVersion),
    read: (key: string) => kv.read(key),
    versionOf: (result: D1WriteResult) => kv.versionOf(result),
    refuse: (key: string) => kv.refuse(key),
    close: () => kv.drop(),
  };
}

conditionalWriteConformance<D1Handle, D1Write, D1WriteResult, number>(
  "d1Store (Miniflare D1)",
  d1Fixture,
);

atomicBatchConformance<D1Handle, D1Write, D1WriteResult, number>(
  "d1Store (Miniflare D1)",
  d1Fixture,
);

fenceTokenConformance<D1Handle, D1Write, D1WriteResult>("d1Store (Miniflare D1)", async () => {
  const fixture = await d1Fixture();
  return {
    store: fixture.store,
    put: (key: string, value: unknown) => fixture.put(key, value),
    read: async (handle: D1Handle, key: string) => {
      const row = await handle.first<{ v: string }>(
        `SELECT v FROM ${fixture.kv.name} WHERE k = ?`,
        [key],
      );
      return row === undefined ? undefined : JSON.parse(row.v);
    },
    close: fixture.close,
  };
});
