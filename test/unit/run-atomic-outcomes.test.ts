import { describe, expect, it } from "vitest";
import {
  createMemoryStore,
  type MemoryHandle,
  type MemoryWrite,
  type MemoryWriteResult,
  memoryPut,
} from "../../src/adapters/memory/index.js";
import {
  type AtomicError,
  type AtomicWrite,
  committed,
  defineStore,
  ErrorCode,
  notCommitted,
  runAtomic,
  StoreError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { injectFault } from "../support/faults.js";

type Write = AtomicWrite<MemoryHandle, MemoryWrite, MemoryWriteResult>;

const MAY_BE_APPLIED = "It may have been applied: check the store before retrying.";
const NOTHING_APPLIED = "Nothing of the work was applied.";

/** Two accounts, a at version 1 and b at version 1. */
function accounts(tier: "transactional" | "batch" | "plain") {
  return createMemoryStore({ tier, seed: { "acct:a": { balance: 10 }, "acct:b": { balance: 0 } } });
}

/** Moves 4 from a to b, each write guarded by the version it expects. */
function transfer(aVersion = 1, bVersion = 1): Write[] {
  return [
    { name: "debit a", guarded: true, build: () => memoryPut("acct:a", { balance: 6 }, aVersion) },
    { name: "credit b", guarded: true, build: () => memoryPut("acct:b", { balance: 4 }, bVersion) },
  ];
}

/**
 * A store declaring atomic batches whose batch checks every guard before it applies anything and,
 * when one does not hold, applies nothing and answers with results that affected nothing, rather
 * than raising a conflict (as a batch script that returns instead of raising may). runAtomic must
 * read those results: success would be a lie.
 */
function quietBatchStore() {
  const inner = createMemoryStore({
    tier: "plain",
    seed: { "acct:a": { balance: 10 }, "acct:b": { balance: 0 } },
  });
  const holds = async (write: MemoryWrite) => {
    if (write.ifVersion === undefined) return true;
    const doc = await inner.handle.get(write.key);
    return write.ifVersion === "absent" ? doc === undefined : doc?.version === write.ifVersion;
  };
  const store = defineStore<MemoryHandle, MemoryWrite, MemoryWriteResult>({
    id: "quiet-batch",
    handle: inner.handle,
    capabilities: { atomicBatch: true, conditionalWrite: true },
    batch: async (writes) => {
      const checks = await Promise.all(writes.map(holds));
      if (checks.includes(false)) return writes.map(() => ({ affected: 0, version: null }));
      const results: MemoryWriteResult[] = [];
      for (const write of writes) results.push(await inner.handle.apply(write));
      return results;
    },
    apply: (handle, write) => handle.apply(write),
    affected: (result) => result.affected,
  });
  return { store, inner };
}

const balances = (store: ReturnType<typeof accounts>) =>
  ["acct:a", "acct:b"].map(
    (key) => (store.snapshot()[key]?.value as { balance: number } | undefined)?.balance,
  );

describe("a batch that answers a lost guard with a result that affected nothing", () => {
  it("on the first write is a conflict naming write 0, not a success", async () => {
    const { store, inner } = quietBatchStore();
    await inner.handle.put("acct:a", { balance: 12 }); // another writer moves a to version 2
    const error = (await runAtomic(store, transfer(1, 1)))._unsafeUnwrapErr();
    expect(error.code, error.message).toBe(ErrorCode.Conflict);
    if (error.code !== ErrorCode.Conflict) return;
    expect(error.index).toBe(0);
    expect(error.write).toBe("debit a");
    expect(error.message).toContain("Nothing of the batch was applied.");
    expect(balances(inner)).toEqual([12, 0]);
  });

  it("of a batch of one guarded write is a conflict, not a success", async () => {
    const { store, inner } = quietBatchStore();
    const [, credit] = transfer(1, 7) as [Write, Write];
    const error = (await runAtomic(store, [credit]))._unsafeUnwrapErr();
    expect(error.code, error.message).toBe(ErrorCode.Conflict);
    if (error.code === ErrorCode.Conflict) expect(error.write).toBe("credit b");
    expect(balances(inner)).toEqual([10, 0]);
  });

  it("with every guard holding, the batch applies and reports every result", async () => {
    const { store, inner } = quietBatchStore();
    const report = (await runAtomic(store, transfer()))._unsafeUnwrap();
    expect(report.strategy).toBe("batch");
    expect(report.results.map((r) => r.affected)).toEqual([1, 1]);
    expect(balances(inner)).toEqual([6, 4]);
  });
});

/** Fails unless `error` is `write_failed`, and returns its message, index and write. */
function writeFailed(error: AtomicError) {
  expect(error.code, error.message).toBe(ErrorCode.WriteFailed);
  if (error.code !== ErrorCode.WriteFailed) throw new Error("unreachable");
  return error;
}

describe("a failed write's message says whether the work may be applied", () => {
  for (const tier of ["transactional", "batch"] as const) {
    it(`a ${tier} whose commit went unanswered may be applied, and the message says so`, async () => {
      const store = accounts(tier);
      const fault = injectFault(
        store,
        { phase: "committed" },
        { type: "throw", error: new Error("response lost") },
      );
      const error = writeFailed((await runAtomic(store, transfer()))._unsafeUnwrapErr());
      expect(fault.fired()).toBe(1);
      expect(error.kind).toBe("unknown");
      // A transaction's commit comes after its last write, which the failure names.
      if (tier === "transactional") expect([error.index, error.write]).toEqual([1, "credit b"]);
      expect(error.message).toContain(MAY_BE_APPLIED);
      expect(error.message).not.toContain(NOTHING_APPLIED);
      // And it was: the message that told the caller to check was the true one.
      expect(balances(store)).toEqual([6, 4]);
    });

    it(`a ${tier} that outlived its deadline may be applied, and the message says so`, async () => {
      const store = accounts(tier);
      const clock = new VirtualClock();
      injectFault(store, { phase: "before", keyPrefix: "acct:b" }, { type: "hang" });
      const result = await clock.run(runAtomic(store, transfer(), { clock, timeoutMs: 200 }));
      const error = writeFailed(result._unsafeUnwrapErr());
      expect(error.kind).toBe("timeout");
      expect(error.message).toContain(MAY_BE_APPLIED);
      expect(error.message).not.toContain(NOTHING_APPLIED);
    });

    it(`a ${tier} the store refused is provably not applied, and the message says so`, async () => {
      const store = accounts(tier);
      injectFault(
        store,
        { phase: "before", keyPrefix: "acct:b" },
        { type: "throw", error: new StoreError("not_committed", "refused") },
      );
      const error = writeFailed((await runAtomic(store, transfer()))._unsafeUnwrapErr());
      expect(error.kind).toBe("not_committed");
      expect(error.message).toContain(NOTHING_APPLIED);
      expect(error.message).not.toContain("may have been applied");
      expect(balances(store)).toEqual([10, 0]);
    });
  }
});

describe("a failed write is blamed on the write that failed", () => {
  /** Three writes, each its own key, so a fault can pick any one by its key. */
  const three = (): Write[] =>
    ["x", "y", "z"].map((name) => ({
      name: `put ${name}`,
      build: () => memoryPut(`k:${name}`, name, "absent"),
      undo: (_h, result) => ({ op: "delete", key: `k:${name}`, ifVersion: result.version ?? -1 }),
    }));

  for (const tier of ["transactional", "plain"] as const) {
    for (const [index, key] of [
      [0, "k:x"],
      [1, "k:y"],
    ] as const) {
      it(`on the ${tier} tier, a refusal of write #${index} of three names write #${index}`, async () => {
        const store = createMemoryStore({ tier });
        injectFault(
          store,
          { phase: "before", keyPrefix: key },
          { type: "throw", error: new StoreError("not_committed", `${key} refused`) },
        );
        const error = writeFailed((await runAtomic(store, three()))._unsafeUnwrapErr());
        expect(error.index).toBe(index);
        expect(error.write).toBe(`put ${key.slice(2)}`);
        expect(error.message).toContain(`Write "put ${key.slice(2)}" (#${index})`);
        expect(error.message).toContain(`${key} refused`);
        expect(error.message).toContain(NOTHING_APPLIED);
        expect(store.snapshot(), "every earlier write must be undone").toEqual({});
      });
    }
  }
});

describe("the sequential strategy's ends surface as themselves", () => {
  it("a run cancelled by the caller's signal, with every undo landed, is cancelled and leaves nothing applied", async () => {
    const store = createMemoryStore({ tier: "plain" });
    const controller = new AbortController();
    const fault = injectFault(
      store,
      { phase: "before", keyPrefix: "k:y" },
      {
        type: "run",
        fn: async () => {
          controller.abort(new Error("the caller went away"));
          await new Promise<never>(() => {});
        },
      },
    );
    // Each write has a probe, so a write cut short by the cancellation is found not applied.
    const writes: Write[] = ["x", "y"].map((name) => ({
      name: `put ${name}`,
      build: () => memoryPut(`k:${name}`, name, "absent"),
      undo: (_h, result) => ({ op: "delete", key: `k:${name}`, ifVersion: result.version ?? -1 }),
      probe: async (handle) => {
        const doc = await handle.get(`k:${name}`);
        return doc === undefined
          ? notCommitted()
          : committed({ affected: 1 as const, version: doc.version });
      },
    }));
    const clock = new VirtualClock();
    const result = await clock.run(runAtomic(store, writes, { clock, signal: controller.signal }));
    const error = result._unsafeUnwrapErr();
    expect(fault.fired()).toBe(1);
    expect(error.code, error.message).toBe(ErrorCode.Cancelled);
    if (error.code !== ErrorCode.Cancelled) return;
    expect((error.reason as Error).message).toBe("the caller went away");
    expect(error.report.status).toBe("compensated");
    expect(store.snapshot(), "the first write must be undone").toEqual({});
  });
});
