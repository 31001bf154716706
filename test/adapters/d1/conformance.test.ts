import type { D1Handle, D1Write, D1WriteResult } from "../../../src/adapters/d1/index.js";
import { conditionalWriteConformance } from "../../conformance/conditional-write.js";
import { fenceTokenConformance } from "../../conformance/fence-token.js";
import { d1Fixture } from "./d1-fixture.js";

conditionalWriteConformance<D1Handle, D1Write, D1WriteResult, number>(
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
