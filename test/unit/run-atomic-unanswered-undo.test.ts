import { describe, expect, it } from "vitest";
import {
  createMemoryStore,
  type MemoryHandle,
  type MemoryStore,
  type MemoryWrite,
  type MemoryWriteResult,
  memoryDelete,
  memoryPut,
} from "../../src/adapters/memory/index.js";
import {
  type AtomicWrite,
  committed,
  ErrorCode,
  MemorySagaLog,
  notCommitted,
  runAtomic,
  StoreError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

type Write = AtomicWrite<MemoryHandle, MemoryWrite, MemoryWriteResult>;

describe("runAtomic's undo after an undo attempt that never answered", () => {
  it("that affects nothing is not yet taken for another writer's change: it may be the lost attempt that landed, so the undo is read and tried again", async () => {
    const inner = createMemoryStore({ id: "plain", tier: "plain" });
    let undos = 0;
    inner.faults = async (point) => {
      if (point.phase === "before" && point.write.key === "k:b") {
        throw new StoreError("not_committed", "b refused");
      }
      if (point.phase !== "before" || point.write.op !== "delete") return;
      undos++;
      // The first undo hangs before it lands, and never answers.
      if (undos === 1) await new Promise<never>(() => {});
      // Every later one finds "a" moved on since the probe read it.
      const doc = await inner.handle.get("k:a");
      await inner.handle.put("k:a", `moved ${undos}`, doc?.version);
    };
    // Without handles bound to each call, an abandoned call is not stopped: it may still land.
    const store = { ...inner, handleFor: undefined } as unknown as MemoryStore;
    let probes = 0;
    const writes: Write[] = [
      {
        name: "a",
        build: () => memoryPut("k:a", "A", "absent"),
        undo: (_h, result) => memoryDelete("k:a", result.version ?? -1),
        probe: async (handle) => {
          probes++;
          const doc = await handle.get("k:a");
          return doc === undefined
            ? notCommitted()
            : committed({ affected: 1 as const, version: doc.version });
        },
      },
      { name: "b", build: () => memoryPut("k:b", "B", "absent") },
    ];
    const clock = new VirtualClock();
    const log = new MemorySagaLog();
    const error = (
      await clock.run(runAtomic(store, writes, { clock, log, timeoutMs: 200 }))
    )._unsafeUnwrapErr();
    // The second undo affected nothing while the first might still have landed: the undo is
    // failed as unknown, read again and tried once more, which then finds another writer's value.
    expect(undos).toBe(3);
    expect(probes).toBe(2);
    expect(error.code, error.message).toBe(ErrorCode.PartiallyApplied);
    if (error.code !== ErrorCode.PartiallyApplied) return;
    const failures = ((await log.load(error.sagaId))?.entries ?? [])
      .filter((e) => e.type === "compensation_failed")
      .map((e) => e.error?.message);
    expect(failures).toContain(
      'The undo of write "a" affected nothing after an attempt whose reply was lost: that attempt may have landed.',
    );
    expect(error.reason).toBe("guard_lost");
    expect(inner.snapshot()["k:a"]?.value).toBe("moved 3");
  });

  it("without a probe, an undo that affects nothing after a lost reply says the write has no probe to check", async () => {
    const store = createMemoryStore({ id: "plain", tier: "plain" });
    let undos = 0;
    store.faults = async (point) => {
      if (point.phase === "before" && point.write.key === "k:b") {
        throw new StoreError("not_committed", "b refused");
      }
      // The first undo lands, and its reply is lost.
      if (point.phase === "after" && point.write.op === "delete" && ++undos === 1) {
        throw new Error("connection reset after the undo landed");
      }
    };
    const writes: Write[] = [
      {
        name: "a",
        build: () => memoryPut("k:a", "A", "absent"),
        undo: (_h, result) => memoryDelete("k:a", result.version ?? -1),
      },
      { name: "b", build: () => memoryPut("k:b", "B", "absent") },
    ];
    const log = new MemorySagaLog();
    const error = (await runAtomic(store, writes, { log }))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.PartiallyApplied);
    if (error.code !== ErrorCode.PartiallyApplied) return;
    const failures = ((await log.load(error.sagaId))?.entries ?? [])
      .filter((e) => e.type === "compensation_failed")
      .map((e) => e.error?.message);
    expect(failures).toContain(
      'The undo of write "a" affected nothing after an attempt whose reply was lost: that attempt may have landed, and the write has no probe to check.',
    );
    expect(store.snapshot()["k:a"]).toBeUndefined();
    expect(error.message).toContain('Whether the undo of write "a" (#0) landed cannot be checked');
  });
});
