import { describe, expect, it } from "vitest";
import { createMemoryStore, memoryDelete, memoryPut } from "../../src/adapters/memory/index.js";
import { ErrorCode, runAtomic } from "../../src/index.js";

/**
 * A batch store runs a write flagged guarded whose write carries no guard of its own: the store
 * applies the rest of the batch, and the conflict's message names, in full, what it applied.
 */
describe("the conflict of a batch that applied despite a lost guard, in words", () => {
  const store = () =>
    createMemoryStore({
      id: "ledger",
      tier: "batch",
      seed: { "acct:a": { balance: 10 }, "acct:b": { balance: 0 } },
    });
  const unguardedDrop = {
    name: "drop hold",
    guarded: true,
    build: () => memoryDelete("hold:none"),
  };

  it("one write applied: names it and says it is applied", async () => {
    const result = await runAtomic(store(), [
      { name: "credit a", build: () => memoryPut("acct:a", { balance: 12 }) },
      unguardedDrop,
    ]);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.Conflict);
    expect(error.message).toBe(
      'Guarded write "drop hold" (#1) on store "ledger" affected nothing: another writer changed its target first. Yet the batch was applied: store "ledger" was not given that guard to enforce, so "credit a" is applied. Express the guard in the write itself (the store\'s own guarded write) so that a lost guard applies nothing.',
    );
  });

  it("two writes applied: names both, in order, and says they are applied", async () => {
    const result = await runAtomic(store(), [
      { name: "credit a", build: () => memoryPut("acct:a", { balance: 12 }) },
      unguardedDrop,
      { name: "credit b", build: () => memoryPut("acct:b", { balance: 2 }) },
    ]);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.Conflict);
    if (error.code !== ErrorCode.Conflict) return;
    expect(error.applied).toEqual(["credit a", "credit b"]);
    expect(error.message).toContain(
      'Yet the batch was applied: store "ledger" was not given that guard to enforce, so "credit a", "credit b" are applied.',
    );
  });
});
