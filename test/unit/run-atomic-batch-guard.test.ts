import { describe, expect, it } from "vitest";
import { createMemoryStore, memoryDelete, memoryPut } from "../../src/adapters/memory/index.js";
import { ErrorCode, runAtomic } from "../../src/index.js";

/**
 * runAtomic's batch strategy reads a guarded write's zero count after the batch came back. A store
 * that was given the guard (the write carries it) fails the batch and applies nothing; one whose
 * write does not carry it applied the rest of the batch, and the conflict must say so, by name.
 */
describe("runAtomic on a batch store: a guard the write does not carry", () => {
  function store() {
    return createMemoryStore({ tier: "batch", seed: { "acct:a": { balance: 10 } } });
  }

  it("a guarded write that affected nothing in a batch that applied is a conflict naming what was applied", async () => {
    const s = store();
    const result = await runAtomic(s, [
      { name: "credit a", build: () => memoryPut("acct:a", { balance: 12 }) },
      // Flagged guarded for runAtomic, but the delete itself carries no version: the store's batch
      // has nothing to enforce, deletes nothing (no such key) and applies the credit.
      { name: "drop hold", guarded: true, build: () => memoryDelete("hold:none") },
    ]);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.Conflict);
    if (error.code !== ErrorCode.Conflict) return;
    expect([error.index, error.write]).toEqual([1, "drop hold"]);
    expect(error.applied).toEqual(["credit a"]);
    expect(error.message).toContain("Yet the batch was applied");
    expect(error.message).not.toContain("Nothing of the batch was applied");
    expect((await s.handle.get("acct:a"))?.value).toEqual({ balance: 12 });
  });

  it("a guard the write carries fails the whole batch: the conflict says nothing was applied", async () => {
    const s = store();
    const result = await runAtomic(s, [
      { name: "credit a", build: () => memoryPut("acct:a", { balance: 12 }) },
      { name: "drop hold", guarded: true, build: () => memoryDelete("acct:a", 7) },
    ]);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.Conflict);
    if (error.code !== ErrorCode.Conflict) return;
    expect([error.index, error.applied]).toEqual([1, []]);
    expect(error.message).toContain("Nothing of the batch was applied");
    expect((await s.handle.get("acct:a"))?.value).toEqual({ balance: 10 });
  });
});
