import { describe, it } from "vitest";
import {
  createMemoryStore,
  type MemoryHandle,
  type MemoryTier,
} from "../../../src/adapters/memory/index.js";
import { expectReplacedDocumentSurvives } from "../../support/replaced-document.js";

const TIERS: readonly MemoryTier[] = ["transactional", "batch", "plain"];

describe("a memory store's guarded compensation after the document was deleted and created again", () => {
  for (const tier of TIERS) {
    it(`refuses on the ${tier} tier: the other writer's document survives, the saga needs attention`, async () => {
      const store = createMemoryStore({ tier, id: `memory:funds-${tier}` });
      await expectReplacedDocumentSurvives<MemoryHandle>(
        {
          store,
          create: async (handle, key, value) => {
            const { version } = await handle.put(key, value, "absent");
            if (version === null) throw new Error(`"${key}" was not created.`);
            return version;
          },
          read: (handle, key) => handle.get(key),
          deleteAt: async (handle, key, version) =>
            (await handle.delete(key, version as number)).affected === 1,
          replace: async (key, value) => {
            await store.handle.delete(key);
            await store.handle.put(key, value, "absent");
          },
        },
        "hold:o-1",
      );
    });
  }
});
