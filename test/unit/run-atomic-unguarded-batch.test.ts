import { describe, expect, it } from "vitest";
import {
  createMemoryStore,
  type MemoryHandle,
  type MemoryWrite,
  type MemoryWriteResult,
  memoryDelete,
  memoryPut,
} from "../../src/adapters/memory/index.js";
import { type AtomicWrite, runAtomic } from "../../src/index.js";

type Write = AtomicWrite<MemoryHandle, MemoryWrite, MemoryWriteResult>;

describe("a batch in which an unguarded write affects nothing", () => {
  it("is a success reporting every result: only a guarded write that affects nothing lost", async () => {
    const store = createMemoryStore({ tier: "batch", seed: { "acct:a": { balance: 10 } } });
    const writes: Write[] = [
      { name: "debit a", guarded: true, build: () => memoryPut("acct:a", { balance: 6 }, 1) },
      { name: "clear hold", build: () => memoryDelete("hold:a") },
      { name: "note", guarded: false, build: () => memoryDelete("note:a") },
    ];
    const report = (await runAtomic(store, writes))._unsafeUnwrap();
    expect(report.strategy).toBe("batch");
    expect(report.results.map((r) => r.affected)).toEqual([1, 0, 0]);
    expect(store.snapshot()["acct:a"]?.value).toEqual({ balance: 6 });
  });
});
