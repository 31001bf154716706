import { type D1WriteResult, d1Store } from "../../../src/adapters/d1/index.js";
import { kvTable, testD1 } from "./d1-test.js";

let fixtures = 0;

/** A fresh key/value table and a store with fences of its own. */
export async function d1Fixture() {
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
