import { describe, expect, it } from "vitest";
import {
  createMemoryStore,
  type MemoryHandle,
  type MemoryWrite,
  type MemoryWriteResult,
  memoryDelete,
  memoryPut,
} from "../../src/adapters/memory/index.js";
import type { CallScope } from "../../src/core/deadline.js";
import {
  type AtomicWrite,
  atomicSaga,
  committed,
  createRunner,
  defineStore,
  ErrorCode,
  LockstepDefinitionError,
  MemorySagaLog,
  notCommitted,
  runAtomic,
  StoreError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

type Write = AtomicWrite<MemoryHandle, MemoryWrite, MemoryWriteResult>;

const put = (name: string): Write => ({
  name,
  build: () => memoryPut(`k:${name}`, name, "absent"),
  undo: (_h, result) => memoryDelete(`k:${name}`, result.version ?? -1),
});

/** A store over a memory store's handle with only what a test gives it besides the handle. */
function storeOver(
  id: string,
  extra: Partial<Parameters<typeof defineStore<MemoryHandle, MemoryWrite, MemoryWriteResult>>[0]>,
) {
  const inner = createMemoryStore({ tier: "plain" });
  return {
    inner,
    store: defineStore<MemoryHandle, MemoryWrite, MemoryWriteResult>({
      id,
      handle: inner.handle,
      ...extra,
    }),
  };
}

describe("runAtomic refuses, before any write", () => {
  it("a store that cannot apply prepared writes, naming the store and the missing capability", async () => {
    const { store, inner } = storeOver("read-only", {});
    const result = await runAtomic(store as never, [put("a")] as never);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.CapabilityMissing);
    if (error.code !== ErrorCode.CapabilityMissing) return;
    expect(error.capability).toBe("apply");
    expect(error.message).toBe(
      'Store "read-only" cannot apply prepared writes (it has no `apply`); runAtomic needs them.',
    );
    expect(inner.writeCount).toBe(0);
  });

  it("a `require` other than atomic or any, naming the value and its type", async () => {
    const store = createMemoryStore({ tier: "transactional" });
    const result = await runAtomic(store, [put("a")], { require: "strict" as never });
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    if (error.code !== ErrorCode.InvalidOptions) return;
    expect(error.option).toBe("require");
    expect(error.message).toBe(
      'Expected `require` to be "atomic" or "any", got `"strict"` (string).',
    );
    expect(store.writeCount).toBe(0);
  });

  it("`runner` together with `log`, naming the option", async () => {
    const store = createMemoryStore({ tier: "plain" });
    const result = await runAtomic(store, [put("a")], {
      runner: createRunner(),
      log: new MemorySagaLog(),
    });
    const error = result._unsafeUnwrapErr();
    expect(error.code === ErrorCode.InvalidOptions && error.option).toBe("log");
  });

  it("no writes, or writes that are not an array, naming what it got", async () => {
    const store = createMemoryStore({ tier: "batch" });
    const empty = (await runAtomic(store, []))._unsafeUnwrapErr();
    expect(empty.code === ErrorCode.InvalidOptions && empty.option).toBe("writes");
    expect(empty.message).toBe(
      "Expected `writes` to be a non-empty array of writes, got `` (array).",
    );
    const notArray = (await runAtomic(store, "writes" as never))._unsafeUnwrapErr();
    expect(notArray.message).toBe(
      'Expected `writes` to be a non-empty array of writes, got `"writes"` (string).',
    );
  });

  it("a guarded write on a store that cannot detect a lost guard, naming the write and the store", async () => {
    const inner = createMemoryStore({ tier: "transactional" });
    const store = defineStore({
      id: "no-cas",
      handle: inner.handle,
      capabilities: { transactions: true },
      transaction: inner.transaction as NonNullable<typeof inner.transaction>,
      apply: inner.apply,
      affected: inner.affected,
    });
    const writes: Write[] = [put("a"), { ...put("b"), guarded: true }];
    const error = (await runAtomic(store, writes))._unsafeUnwrapErr();
    expect(error.message).toBe(
      'Write "b" is guarded, but store "no-cas" does not declare conditionalWrite, so a lost guard could not be detected. Nothing was written.',
    );
    expect(inner.writeCount).toBe(0);
  });
});

describe("runAtomic accepts", () => {
  it('`require: "any"` on a store with atomic batches, and runs a batch', async () => {
    const store = createMemoryStore({ tier: "batch" });
    const report = (await runAtomic(store, [put("a")], { require: "any" }))._unsafeUnwrap();
    expect(report.strategy).toBe("batch");
  });

  it("unguarded writes on a store that cannot detect a lost guard", async () => {
    const inner = createMemoryStore({ tier: "transactional" });
    const store = defineStore({
      id: "no-cas",
      handle: inner.handle,
      capabilities: { transactions: true },
      transaction: inner.transaction as NonNullable<typeof inner.transaction>,
      apply: inner.apply,
      affected: inner.affected,
    });
    const report = (await runAtomic(store, [put("a"), put("b")]))._unsafeUnwrap();
    expect(report.strategy).toBe("transaction");
    expect(Object.keys(inner.snapshot()).sort()).toEqual(["k:a", "k:b"]);
  });

  it("a runner without a log of its own: the sequential writes are recorded in the runner's", async () => {
    const store = createMemoryStore({ tier: "plain" });
    const runner = createRunner();
    const report = (await runAtomic(store, [put("a"), put("b")], { runner }))._unsafeUnwrap();
    expect(report.strategy).toBe("sequential");
    const records = await runner.log.list();
    expect(records.map((r) => [r.definition.name, r.status])).toEqual([
      ["runAtomic:memory:plain:a,b", "completed"],
    ]);
  });
});

describe("runAtomic on a store that misbehaves", () => {
  it("a batch that answers with the wrong number of results may have applied, and says so", async () => {
    const { store } = storeOver("short-batch", {
      capabilities: { atomicBatch: true },
      batch: async (writes) => writes.slice(1).map(() => ({ affected: 1 as const, version: 1 })),
      apply: (handle, write) => handle.apply(write),
      affected: (result) => result.affected,
    });
    const error = (
      await runAtomic(store as never, [put("a"), put("b")] as never)
    )._unsafeUnwrapErr();
    expect(error.code === ErrorCode.WriteFailed && error.kind).toBe("unknown");
    expect(error.message).toContain('Store "short-batch" returned 1 batch results for 2 writes.');
    expect(error.message).toContain("It may have been applied");
  });

  it("a transaction that ignores its deadline ends at it, as a timeout that may have applied", async () => {
    const clock = new VirtualClock();
    const { store } = storeOver("deaf", {
      capabilities: { transactions: true },
      // Neither settles nor listens to the scope's signal.
      transaction: () => new Promise<never>(() => {}),
      apply: (handle, write) => handle.apply(write),
      affected: (result) => result.affected,
    });
    const result = await clock.run(
      runAtomic(store as never, [put("a")] as never, { clock, timeoutMs: 50 }),
    );
    const error = result._unsafeUnwrapErr();
    expect(error.code === ErrorCode.WriteFailed && error.kind).toBe("timeout");
    expect(error.message).toBe(
      'Write "a" (#0) on store "deaf" failed (timeout): The transaction did not finish within its deadline. It may have been applied: check the store before retrying.',
    );
  });

  for (const [what, cause] of [
    ["a driver error whose cause is null", () => new Error("refused", { cause: null })],
    [
      "a driver error whose cause chain loops",
      () => {
        const error = new Error("refused") as Error & { cause?: unknown };
        error.cause = error;
        return error;
      },
    ],
  ] as const) {
    it(`${what} is still reported as the write's failure`, async () => {
      const store = createMemoryStore({ tier: "transactional" });
      store.faults = (point) => {
        if (point.phase === "before") throw cause();
      };
      const error = (await runAtomic(store, [put("a")]))._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.WriteFailed);
      expect(error.message).toContain('Write "a" (#0) on store "memory:transactional" failed');
      expect(error.message).toContain("refused");
    });
  }
});

describe("the sequential strategy's log", () => {
  it("records a lost guard on the write that lost it, for whoever reads the log", async () => {
    const store = createMemoryStore({ tier: "plain", seed: { "k:b": "taken" } });
    const log = new MemorySagaLog();
    const writes: Write[] = [
      put("a"),
      { ...put("b"), guarded: true, build: () => memoryPut("k:b", "b", 7) },
    ];
    const error = (await runAtomic(store, writes, { log }))._unsafeUnwrapErr();
    expect(error.code === ErrorCode.Conflict && error.index).toBe(1);
    expect(error.message).toBe(
      'Guarded write "b" (#1) on store "memory:plain" affected nothing: another writer changed its target first. Nothing of the work was applied.',
    );
    const [record] = await log.list();
    const snapshot = await log.load(record?.sagaId as string);
    const failure = snapshot?.entries.find((e) => e.step === "1:b" && e.error !== undefined);
    expect(failure?.error).toEqual({
      kind: "conflict",
      message: "Guarded write #1 affected nothing.",
    });
  });
});

describe("atomicSaga", () => {
  const store = () => createMemoryStore({ id: "plain", tier: "plain" });

  it("refuses no writes, or writes that are not an array, naming what it got", () => {
    expect(() => atomicSaga(store(), [])).toThrow(
      new LockstepDefinitionError(
        "Expected the writes of atomicSaga to be a non-empty array of writes, got `` (array).",
      ),
    );
    expect(() => atomicSaga(store(), {} as never)).toThrow(LockstepDefinitionError);
  });

  it("refuses a write without an undo anywhere but last, naming it", () => {
    const { undo: _, ...first } = put("a");
    expect(() => atomicSaga(store(), [first, put("b")])).toThrow(
      new LockstepDefinitionError(
        'Write "a" of atomicSaga has no `undo`; every write but the last needs one.',
      ),
    );
    const { undo: _b, ...middle } = put("b");
    expect(() => atomicSaga(store(), [put("a"), middle, put("c")])).toThrow(
      'Write "b" of atomicSaga has no `undo`',
    );
    const { undo: __, ...last } = put("b");
    expect(atomicSaga(store(), [put("a"), last]).steps.map((s) => s.kind)).toEqual([
      "compensatable",
      "pivot",
    ]);
  });

  it("makes every write but the last a compensatable step and the last the pivot", () => {
    const saga = atomicSaga(store(), [put("a"), put("b"), put("c")]);
    expect(saga.steps.map((s) => [s.name, s.kind])).toEqual([
      ["0:a", "compensatable"],
      ["1:b", "compensatable"],
      ["2:c", "pivot"],
    ]);
  });

  it("gives every write, probe and undo its deadline (`timeoutMs`, 10 s by default) and signal", async () => {
    for (const [options, expected] of [
      [{ timeoutMs: 500 }, 500],
      [{}, 10_000],
    ] as const) {
      const clock = new VirtualClock();
      const inner = store();
      const seen: string[] = [];
      const note = (what: string, scope: CallScope) =>
        seen.push(`${what} ${scope.deadline - clock.now()} ${scope.signal instanceof AbortSignal}`);
      inner.faults = (point) => {
        if (point.phase === "before" && point.write.key === "k:c") {
          throw new StoreError("not_committed", "c refused");
        }
        // The reply to "b" is lost, so its probe is asked whether it landed.
        if (point.phase === "after" && point.write.key === "k:b" && point.write.op === "put") {
          throw new Error("connection reset");
        }
      };
      const recording = defineStore<MemoryHandle, MemoryWrite, MemoryWriteResult>({
        id: "recording",
        handle: inner.handle,
        capabilities: { conditionalWrite: true },
        apply: (handle, write, scope) => {
          note(`apply ${write.op} ${write.key}`, scope);
          return handle.apply(write);
        },
        affected: (result) => result.affected,
      });
      const probed: Write = {
        ...put("b"),
        probe: async (handle, scope) => {
          note("probe b", scope);
          const doc = await handle.get("k:b");
          return doc === undefined
            ? notCommitted()
            : committed({ affected: 1, version: doc.version });
        },
      };
      const saga = atomicSaga(recording, [put("a"), probed, put("c")], options);
      const runner = createRunner({ clock });
      await clock.run(runner.run(saga, null));
      expect(seen).toEqual([
        `apply put k:a ${expected} true`,
        `apply put k:b ${expected} true`,
        `probe b ${expected} true`,
        `apply put k:c ${expected} true`,
        `apply delete k:b ${expected} true`,
        `apply delete k:a ${expected} true`,
      ]);
    }
  });
});
