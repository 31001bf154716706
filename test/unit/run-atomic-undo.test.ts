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
  cannotTell,
  committed,
  ErrorCode,
  MemorySagaLog,
  notCommitted,
  runAtomic,
  type SagaLog,
  StoreError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

/**
 * How runAtomic's sequential strategy undoes an earlier write when a later one fails, where what
 * the store answered (or did not) decides whether the undo may be repeated blindly.
 */

type Write = AtomicWrite<MemoryHandle, MemoryWrite, MemoryWriteResult>;

interface Counts {
  probes: number;
  undos: number;
}

/** "a" then "b", which is refused; "a" is undone by a guarded delete, and has a probe. */
function twoInserts(
  store: MemoryStore,
  probe?: Write["probe"],
): { writes: Write[]; counts: Counts } {
  const counts: Counts = { probes: 0, undos: 0 };
  const a: Write = {
    name: "a",
    build: () => memoryPut("k:a", "A", "absent"),
    undo: (_h, result) => memoryDelete("k:a", result.version ?? -1),
    probe: async (handle, scope) => {
      counts.probes++;
      if (probe !== undefined) return probe(handle, scope);
      const doc = await handle.get("k:a");
      return doc === undefined
        ? notCommitted()
        : committed({ affected: 1 as const, version: doc.version });
    },
  };
  const b: Write = { name: "b", build: () => memoryPut("k:b", "B", "absent") };
  const previous = store.faults;
  store.faults = async (point) => {
    if (point.phase !== "committed" && point.write.key === "k:a" && point.write.op === "delete") {
      if (point.phase === "before") counts.undos++;
    }
    if (point.phase === "before" && point.write.key === "k:b") {
      throw new StoreError("not_committed", "b refused");
    }
    await previous?.(point);
  };
  return { writes: [a, b], counts };
}

const keys = (store: MemoryStore) => Object.keys(store.snapshot()).sort();

describe("runAtomic's undo of an earlier write", () => {
  it("refused provably, is repeated without asking the probe, even one that cannot tell", async () => {
    const store = createMemoryStore({ id: "plain", tier: "plain" });
    let refusals = 0;
    store.faults = (point) => {
      if (point.phase === "before" && point.write.op === "delete" && refusals++ === 0) {
        throw new StoreError("not_committed", "busy, try again");
      }
    };
    const { writes, counts } = twoInserts(store, async () => cannotTell("the replica is behind"));
    const error = (await runAtomic(store, writes))._unsafeUnwrapErr();
    expect(error.code, error.message).toBe(ErrorCode.WriteFailed);
    expect(error.message).toContain("Nothing of the work was applied.");
    expect(keys(store)).toEqual([]);
    expect(counts).toEqual({ probes: 0, undos: 2 });
  });

  it("whose reply was lost, then finds the target changed by another writer, leaves that writer's value alone", async () => {
    const store = createMemoryStore({ id: "plain", tier: "plain" });
    let undos = 0;
    store.faults = async (point) => {
      if (point.phase !== "before" || point.write.op !== "delete") return;
      undos++;
      // First attempt: the undo never lands, and its reply is lost.
      if (undos === 1) throw new Error("connection reset before the undo landed");
      // Second attempt: after the probe found "a" still in place, another writer moves it on.
      if (undos === 2) await store.handle.put("k:a", "someone else's");
    };
    const { writes, counts } = twoInserts(store);
    const error = (await runAtomic(store, writes))._unsafeUnwrapErr();
    expect(error.code, error.message).toBe(ErrorCode.PartiallyApplied);
    if (error.code !== ErrorCode.PartiallyApplied) return;
    expect(error.reason).toBe("guard_lost");
    expect(store.snapshot()["k:a"]?.value, "the other writer's value must stay").toBe(
      "someone else's",
    );
    expect(counts.probes).toBe(1);
  });

  it("abandoned at its deadline on a store whose calls outlive it, is checked by the probe before it is repeated", async () => {
    const inner = createMemoryStore({ id: "plain", tier: "plain" });
    let hung = false;
    inner.faults = async (point) => {
      // The first undo lands, and its answer never comes back.
      if (point.phase === "after" && point.write.op === "delete" && !hung) {
        hung = true;
        await new Promise<never>(() => {});
      }
    };
    // Without handles bound to each call, an abandoned call is not stopped: it may still land.
    const store = { ...inner, handleFor: undefined } as unknown as MemoryStore;
    const { writes, counts } = twoInserts(inner);
    const clock = new VirtualClock();
    const error = (
      await clock.run(runAtomic(store, writes, { clock, timeoutMs: 200 }))
    )._unsafeUnwrapErr();
    expect(hung).toBe(true);
    expect(error.code, error.message).toBe(ErrorCode.WriteFailed);
    expect(error.message).toContain("Nothing of the work was applied.");
    expect(keys(inner)).toEqual([]);
    expect(counts).toEqual({ probes: 1, undos: 1 });
  });

  it("cut short by the caller's cancellation and then refused: names the write left and the run's error as the cause", async () => {
    const store = createMemoryStore({ id: "plain", tier: "plain" });
    const cancel = new AbortController();
    store.faults = (point) => {
      if (point.phase === "after" && point.write.key === "k:a" && point.write.op === "put") {
        cancel.abort(new Error("the caller gave up"));
      }
      if (point.phase === "before" && point.write.op === "delete") {
        throw new StoreError("not_committed", "undo refused");
      }
    };
    const { writes } = twoInserts(store);
    const error = (await runAtomic(store, writes, { signal: cancel.signal }))._unsafeUnwrapErr();
    expect(error.code, error.message).toBe(ErrorCode.PartiallyApplied);
    if (error.code !== ErrorCode.PartiallyApplied) return;
    expect([error.index, error.write, error.kind]).toEqual([0, "a", "unknown"]);
    // The cause is the run's own error, which carries the saga's report.
    expect(error.cause).toMatchObject({ code: ErrorCode.StepFailed, sagaId: error.sagaId });
    expect(error.message).toMatch(
      /^The work on store "plain" was cancelled\. The undo of write "a" \(#0\)/,
    );
  });
});

describe("runAtomic's sequential strategy on a saga log that fails", () => {
  it("reports the write it was at as failed, and that the work may be applied", async () => {
    const log = new MemorySagaLog();
    let writes = 0;
    const failing = new Proxy(log, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (property === "write") {
          return (...args: Parameters<SagaLog["write"]>) =>
            ++writes === 2 ? Promise.reject(new Error("disk full")) : target.write(...args);
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const store = createMemoryStore({ id: "plain", tier: "plain" });
    const { writes: work } = twoInserts(store);
    const error = (await runAtomic(store, work, { log: failing }))._unsafeUnwrapErr();
    expect(error.code, error.message).toBe(ErrorCode.WriteFailed);
    if (error.code !== ErrorCode.WriteFailed) return;
    expect(error.kind).toBe("unknown");
    expect(error.message).toContain("disk full");
    expect(error.message).toContain("It may have been applied: check the store before retrying.");
  });
});
