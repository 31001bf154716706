import { describe, expect, it } from "vitest";
import { createMemoryStore, memoryDelete, memoryPut } from "../../src/adapters/memory/index.js";
import {
  committed,
  defineStore,
  ErrorCode,
  notCommitted,
  runAtomic,
  StoreError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { injectFault } from "../support/faults.js";
import { STRATEGY_OF, TIERS } from "../support/orders.js";

function seeded(tier: (typeof TIERS)[number]) {
  return createMemoryStore({ tier, seed: { "acct:a": { balance: 10 }, "acct:b": { balance: 0 } } });
}

function transfer(store: ReturnType<typeof seeded>, amount: number, aVersion = 1) {
  return [
    {
      name: "debit a",
      guarded: true,
      build: () => memoryPut("acct:a", { balance: 10 - amount }, aVersion),
      undo: (_h: unknown, r: { version: number | null }) =>
        memoryPut("acct:a", { balance: 10 }, r.version ?? -1),
      probe: async () =>
        (await store.handle.get("acct:a"))?.version === aVersion + 1
          ? committed({ affected: 1 as const, version: aVersion + 1 })
          : notCommitted(),
    },
    {
      name: "credit b",
      guarded: true,
      build: () => memoryPut("acct:b", { balance: amount }, 1),
      probe: async () =>
        (await store.handle.get("acct:b"))?.version === 2
          ? committed({ affected: 1 as const, version: 2 })
          : notCommitted(),
    },
  ];
}

const balances = (store: ReturnType<typeof seeded>) => {
  const snap = store.snapshot();
  return [
    (snap["acct:a"]?.value as { balance: number } | undefined)?.balance,
    (snap["acct:b"]?.value as { balance: number } | undefined)?.balance,
  ];
};

for (const tier of TIERS) {
  describe(`runAtomic on the ${tier} tier`, () => {
    it(`runs as a ${STRATEGY_OF[tier]} and applies every write`, async () => {
      const store = seeded(tier);
      const result = await runAtomic(store, transfer(store, 4));
      const report = result._unsafeUnwrap();
      expect(report.strategy).toBe(STRATEGY_OF[tier]);
      expect(report.results.map((r) => r.affected)).toEqual([1, 1]);
      expect(balances(store)).toEqual([6, 4]);
    });

    it("a guarded write that affects nothing is a conflict and nothing stays applied", async () => {
      const store = seeded(tier);
      await store.handle.put("acct:b", { balance: 7 }); // b moves to version 2: the credit's guard fails
      const result = await runAtomic(store, transfer(store, 4));
      const error = result._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.Conflict);
      if (error.code !== ErrorCode.Conflict) return;
      expect(error.index).toBe(1);
      expect(error.write).toBe("credit b");
      expect(balances(store)).toEqual([10, 7]);
    });

    it("a failure before the second write's effect leaves nothing applied", async () => {
      const store = seeded(tier);
      const fault = injectFault(
        store,
        { phase: "before", keyPrefix: "acct:b" },
        {
          type: "throw",
          error: new StoreError("not_committed", "rejected"),
        },
      );
      const result = await runAtomic(store, transfer(store, 4));
      expect(fault.fired()).toBe(1);
      const error = result._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.WriteFailed);
      if (error.code !== ErrorCode.WriteFailed) return;
      expect(error.kind).toBe("not_committed");
      expect(balances(store)).toEqual([10, 0]);
    });

    it("a failure after the last write's effect is not mistaken for nothing applied", async () => {
      const store = seeded(tier);
      const phase = tier === "plain" ? "after" : "committed";
      const fault = injectFault(
        store,
        { phase, keyPrefix: "acct:b" },
        { type: "throw", error: new Error("response lost") },
      );
      const result = await runAtomic(store, transfer(store, 4));
      expect(fault.fired()).toBe(1);
      expect(balances(store)).toEqual([6, 4]);
      if (tier === "plain") {
        // The sequence probes the lost write and finds it applied.
        expect(result._unsafeUnwrap().strategy).toBe("sequential");
      } else {
        const error = result._unsafeUnwrapErr();
        expect(error.code).toBe(ErrorCode.WriteFailed);
        if (error.code === ErrorCode.WriteFailed) expect(error.kind).toBe("unknown");
      }
    });

    it("a write that hangs past the deadline ends the work without waiting for it", async () => {
      const store = seeded(tier);
      const clock = new VirtualClock();
      injectFault(store, { phase: "before", keyPrefix: "acct:b" }, { type: "hang" });
      const start = clock.now();
      const result = await clock.run(
        runAtomic(store, transfer(store, 4), { clock, timeoutMs: 200 }),
      );
      expect(result.isErr()).toBe(true);
      expect(clock.now() - start).toBeLessThanOrEqual(200 * 2);
      expect(balances(store)[1]).toBe(0);
    });
  });
}

describe("runAtomic refusals", () => {
  it('fails before any write on a plain store when require is "atomic"', async () => {
    const store = seeded("plain");
    let built = 0;
    const result = await runAtomic(
      store,
      [
        {
          name: "w",
          build: () => {
            built++;
            return memoryPut("x", 1);
          },
        },
      ],
      { require: "atomic" },
    );
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.AtomicityUnavailable);
    expect(error.message).toContain("memory:plain");
    expect(built).toBe(0);
    expect(store.writeCount).toBe(0);
  });

  it("refuses sequential writes that could not be undone, before any write", async () => {
    const store = seeded("plain");
    const result = await runAtomic(store, [
      { name: "first", build: () => memoryPut("x", 1) },
      { name: "second", build: () => memoryPut("y", 1) },
    ]);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.AtomicityUnavailable);
    expect(error.message).toContain('"first"');
    expect(store.writeCount).toBe(0);
  });

  it("refuses a guarded write on a store that cannot detect a lost guard", async () => {
    const inner = createMemoryStore({ tier: "transactional" });
    const store = defineStore({
      id: "no-cas",
      handle: inner.handle,
      capabilities: { transactions: true },
      transaction: inner.transaction as NonNullable<typeof inner.transaction>,
      apply: inner.apply,
      affected: inner.affected,
    });
    const result = await runAtomic(store, [
      { name: "w", guarded: true, build: () => memoryDelete("x", 1) },
    ]);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.CapabilityMissing);
    if (error.code === ErrorCode.CapabilityMissing)
      expect(error.capability).toBe("conditionalWrite");
  });

  it("names bad options and their type", async () => {
    const store = seeded("batch");
    const bad = await runAtomic(store, [{ name: "w", build: () => memoryPut("x", 1) }], {
      timeoutMs: 0,
    });
    expect(bad._unsafeUnwrapErr().message).toBe(
      "Expected `timeoutMs` to be an integer from 1 to 2147483647, got `0` (number).",
    );
    const empty = await runAtomic(store, []);
    expect(empty._unsafeUnwrapErr().code).toBe(ErrorCode.InvalidOptions);
  });

  it("undoes earlier sequential writes when a later one fails, guarded", async () => {
    const store = seeded("plain");
    injectFault(
      store,
      { phase: "before", keyPrefix: "acct:b" },
      { type: "throw", error: new StoreError("not_committed", "no") },
    );
    const result = await runAtomic(store, transfer(store, 4));
    expect(result._unsafeUnwrapErr().code).toBe(ErrorCode.WriteFailed);
    expect(balances(store)).toEqual([10, 0]);
    // debit, then its undo: two applied writes, both on acct:a.
    expect(store.snapshot()["acct:a"]?.version).toBe(3);
  });
});
