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
  type AtomicError,
  type AtomicWrite,
  atomicSaga,
  cannotTell,
  committed,
  createRecoverer,
  createRunner,
  ErrorCode,
  MemorySagaLog,
  notCommitted,
  type PartiallyAppliedError,
  runAtomic,
  StoreError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

type Write = AtomicWrite<MemoryHandle, MemoryWrite, MemoryWriteResult>;

/** What the store does to the undo of write "a" (a guarded delete of `k:a`), attempt by attempt. */
type UndoFault = "refuse" | "transient" | "lost_after" | "lost_before" | undefined;

interface Bench {
  readonly store: MemoryStore;
  readonly writes: Write[];
  /** How many times the undo of write "a" reached the store. */
  undoCalls: number;
  /** How many times write "a"'s probe was asked. */
  probeCalls: number;
}

/**
 * Three inserts on a store with neither transactions nor batches (the sequential strategy): "c" is
 * always refused, so "a" and "b" are undone, and the undo of "a" meets `faults[attempt - 1]`.
 */
function bench(faults: readonly UndoFault[], options: { probeA?: boolean } = {}): Bench {
  const store = createMemoryStore({ id: "plain", tier: "plain" });
  const state: Bench = { store, writes: [], undoCalls: 0, probeCalls: 0 };
  store.faults = (point) => {
    if (point.phase === "committed") return;
    if (point.write.key === "k:c" && point.phase === "before") {
      throw new StoreError("not_committed", "c refused");
    }
    if (point.write.key !== "k:a" || point.write.op !== "delete") return;
    const fault = faults[state.undoCalls - (point.phase === "before" ? 0 : 1)];
    if (point.phase === "before") {
      state.undoCalls++;
      if (fault === "refuse") throw new StoreError("not_committed", "undo of a refused");
      if (fault === "transient") throw new StoreError("transient", "the store is busy");
      if (fault === "lost_before") throw new Error("connection reset before the undo landed");
    } else if (fault === "lost_after") {
      throw new Error("connection reset after the undo landed");
    }
  };
  const insert = (name: string, probe = true): Write => ({
    name,
    build: () => memoryPut(`k:${name}`, name.toUpperCase(), "absent"),
    undo: (_h, result) => memoryDelete(`k:${name}`, result.version ?? -1),
    ...(probe
      ? {
          probe: async (handle: MemoryHandle) => {
            if (name === "a") state.probeCalls++;
            const doc = await handle.get(`k:${name}`);
            return doc === undefined
              ? notCommitted()
              : committed({ affected: 1 as const, version: doc.version });
          },
        }
      : {}),
  });
  state.writes.push(insert("a", options.probeA ?? true), insert("b"), insert("c"));
  return state;
}

const keys = (store: MemoryStore) => Object.keys(store.snapshot()).sort();

/** Fails unless `error` is `partially_applied`, and narrows it. */
function assertPartial(error: AtomicError): asserts error is PartiallyAppliedError {
  expect(error.code, error.message).toBe(ErrorCode.PartiallyApplied);
}

describe("runAtomic tells what is applied when an undo fails", () => {
  it("an undo refused every time: partially applied, naming the write left, with the saga's report", async () => {
    const state = bench(["refuse", "refuse", "refuse", "refuse"]);
    const { store, writes } = state;
    const result = await runAtomic(store, writes);
    const error = result._unsafeUnwrapErr();
    // The store still holds "a": the error must not say that nothing was applied.
    expect(keys(store)).toEqual(["k:a"]);
    assertPartial(error);
    expect(error.message).not.toMatch(/Nothing of the work was applied/);
    expect(error.message).toContain('write "a" (#0)');
    expect(error.message).toContain("c refused");
    expect(error.message).toContain("undo of a refused");
    expect(error.reason).toBe("compensation_failed");
    expect(error.applied).toEqual(["a"]);
    expect(error.unknown).toEqual([]);
    expect(error.index).toBe(2);
    expect(error.write).toBe("c");
    expect(error.sagaId).toBe(error.report.sagaId);
    expect(error.report.status).toBe("compensating");
    expect(error.report.steps.map((s) => s.status)).toEqual([
      "committed",
      "compensated",
      "not_committed",
    ]);
    // The undo followed the runner's retry policy (3 attempts by default), not one try.
    expect(state.undoCalls).toBe(3);
    // runAtomic's own log is private: the message says no recoverer can finish it, and what to do.
    expect(error.recoverable).toBe(false);
    expect(error.message).toMatch(/no recoverer can see/);
    expect(error.message).toMatch(/undo write "a" \(#0\) yourself/);
    expect(error.message).toMatch(/`log`/);
  });

  it("an undo refused once (transient) is retried, and then nothing is applied, truly", async () => {
    const state = bench(["transient"]);
    const result = await runAtomic(state.store, state.writes);
    const error = result._unsafeUnwrapErr();
    expect(state.undoCalls).toBe(2);
    expect(keys(state.store)).toEqual([]);
    expect(error.code).toBe(ErrorCode.WriteFailed);
    expect(error.message).toMatch(/Nothing of the work was applied\.$/);
  });

  it("an undo that landed but whose reply was lost is checked by the write's probe, not repeated blindly", async () => {
    const state = bench(["lost_after"]);
    const log = new MemorySagaLog();
    const result = await runAtomic(state.store, state.writes, { log });
    const error = result._unsafeUnwrapErr();
    expect(keys(state.store)).toEqual([]);
    expect(error.code).toBe(ErrorCode.WriteFailed);
    expect(error.message).toMatch(/Nothing of the work was applied\.$/);
    // The probe was asked after the lost reply, and found the write gone: the undo is not repeated.
    expect(state.probeCalls).toBe(1);
    expect(state.undoCalls).toBe(1);
    const [saga] = await log.list();
    expect(saga?.status).toBe("compensated");
  });

  it("an undo whose reply was lost before it landed is found by the probe and applied again", async () => {
    const state = bench(["lost_before"]);
    const result = await runAtomic(state.store, state.writes);
    const error = result._unsafeUnwrapErr();
    expect(keys(state.store)).toEqual([]);
    expect(state.probeCalls).toBe(1);
    expect(state.undoCalls).toBe(2);
    expect(error.code).toBe(ErrorCode.WriteFailed);
  });

  it("an undo that landed but never answered is not taken for another writer's change", async () => {
    const state = bench([]);
    const inner = state.store.faults;
    let hung = false;
    state.store.faults = async (point) => {
      await inner?.(point);
      // The first undo of "a" lands, and its answer never comes back.
      if (point.phase === "after" && point.write.key === "k:a" && point.write.op === "delete") {
        if (!hung) {
          hung = true;
          await new Promise<never>(() => {});
        }
      }
    };
    const clock = new VirtualClock();
    const error = (
      await clock.run(runAtomic(state.store, state.writes, { clock, timeoutMs: 200 }))
    )._unsafeUnwrapErr();
    expect(hung).toBe(true);
    expect(keys(state.store)).toEqual([]);
    // The next attempt asked the probe, which found "a" gone: nothing is applied, and no guard lost.
    expect(state.probeCalls).toBe(1);
    expect(error.code).toBe(ErrorCode.WriteFailed);
    expect(error.message).toMatch(/Nothing of the work was applied\.$/);
  });

  it("an undo that never answers on any attempt is an outcome unknown, saying so", async () => {
    const state = bench([], { probeA: false });
    const inner = state.store.faults;
    state.store.faults = async (point) => {
      await inner?.(point);
      if (point.phase === "before" && point.write.key === "k:a" && point.write.op === "delete") {
        await new Promise<never>(() => {});
      }
    };
    const clock = new VirtualClock();
    // Without handles bound to each call, the memory store behaves as a remote store would: an
    // abandoned undo is not stopped, so it may still land (bound, it would be proven not applied).
    const unbound = { ...state.store, handleFor: undefined } as unknown as typeof state.store;
    const error = (
      await clock.run(runAtomic(unbound, state.writes, { clock, timeoutMs: 200 }))
    )._unsafeUnwrapErr();
    assertPartial(error);
    expect(error.reason).toBe("outcome_unknown");
    expect(error.unknown).toEqual(["a"]);
    expect(error.message).toContain("did not answer within its deadline and may still land");
  });

  it("an undo whose builder throws is a failed attempt that never reached the store", async () => {
    const state = bench([]);
    const [a] = state.writes as [Write];
    state.writes[0] = {
      ...a,
      undo: () => {
        throw new Error("cannot build the undo");
      },
    };
    const error = (await runAtomic(state.store, state.writes))._unsafeUnwrapErr();
    assertPartial(error);
    // Nothing reached the store, so nothing is in doubt: the undo failed.
    expect(error.reason).toBe("compensation_failed");
    expect(error.applied).toEqual(["a"]);
    expect(error.message).toContain("cannot build the undo");
  });

  it("an undo whose reply was lost, on a write without a probe, is an outcome unknown", async () => {
    const state = bench(["lost_after", undefined, undefined], { probeA: false });
    const result = await runAtomic(state.store, state.writes);
    const error = result._unsafeUnwrapErr();
    // The undo did land, but nothing can check it: the error must not claim either way.
    expect(keys(state.store)).toEqual([]);
    assertPartial(error);
    expect(error.reason).toBe("outcome_unknown");
    expect(error.applied).toEqual([]);
    expect(error.unknown).toEqual(["a"]);
    expect(error.message).toContain('write "a" (#0)');
    expect(error.message).toMatch(/no probe/);
  });

  it("an undo whose guard lost to another writer: partially applied, naming the write", async () => {
    const state = bench([]);
    const inner = state.store.faults;
    state.store.faults = async (point) => {
      // Another writer moves "a" on just before "c" is refused.
      if (point.phase === "before" && point.write.key === "k:c") {
        await state.store.handle.put("k:a", "someone else's");
      }
      await inner?.(point);
    };
    const result = await runAtomic(state.store, state.writes);
    const error = result._unsafeUnwrapErr();
    expect(keys(state.store)).toEqual(["k:a"]);
    assertPartial(error);
    expect(error.reason).toBe("guard_lost");
    expect(error.applied).toEqual(["a"]);
    expect(error.message).toMatch(/another writer/);
    expect(error.message).toContain('write "a" (#0)');
    expect(error.report.status).toBe("needs_attention");
  });

  it("with a `log`, recovery given atomicSaga finishes the undo runAtomic gave up on", async () => {
    const state = bench(["refuse", "refuse", "refuse"]);
    const log = new MemorySagaLog();
    const result = await runAtomic(state.store, state.writes, { log });
    const error = result._unsafeUnwrapErr();
    assertPartial(error);
    expect(error.recoverable).toBe(true);
    expect(error.message).toContain(`saga "${error.sagaId}"`);
    expect(error.message).toMatch(/atomicSaga/);
    expect(keys(state.store)).toEqual(["k:a"]);
    // The store accepts the undo now; a recoverer over the same log, in a fresh closure, finishes it.
    const recoverer = createRecoverer({
      runner: createRunner({ log }),
      sagas: [atomicSaga(state.store, state.writes)],
    });
    const pass = (await recoverer.recover())._unsafeUnwrap();
    expect(pass.sagas.map((s) => s.outcome)).toEqual(["compensated"]);
    expect(keys(state.store)).toEqual([]);
  });

  it("an undo whose reply was lost, when the probe cannot tell, is an outcome unknown naming why", async () => {
    const state = bench(["lost_after"]);
    const [a] = state.writes as [Write];
    state.writes[0] = { ...a, probe: async () => cannotTell("the replica is behind") };
    const error = (await runAtomic(state.store, state.writes))._unsafeUnwrapErr();
    assertPartial(error);
    expect(error.reason).toBe("outcome_unknown");
    expect(error.unknown).toEqual(["a"]);
    expect(error.message).toContain("the replica is behind");
    // The undo is not repeated while nothing can say whether the first one landed.
    expect(state.undoCalls).toBe(1);
  });

  it("a probe that throws while checking a lost undo is a failed attempt, and its error is told", async () => {
    const state = bench(["lost_after"]);
    const [a] = state.writes as [Write];
    state.writes[0] = {
      ...a,
      probe: async () => {
        throw new Error("the probe's read timed out");
      },
    };
    const error = (await runAtomic(state.store, state.writes))._unsafeUnwrapErr();
    assertPartial(error);
    expect(error.reason).toBe("outcome_unknown");
    expect(error.message).toContain("the probe's read timed out");
    expect(state.undoCalls).toBe(1);
  });

  it("a write whose outcome was unknown and whose probe found it absent leaves nothing applied, and says so", async () => {
    const store = createMemoryStore({ id: "plain", tier: "plain" });
    let lost = false;
    store.faults = (point) => {
      if (point.phase === "before" && point.write.key === "k:b" && !lost) {
        lost = true;
        throw new Error("connection reset before the write landed");
      }
    };
    const state = bench([]);
    const writes = state.writes.slice(0, 2);
    const error = (await runAtomic(store, writes))._unsafeUnwrapErr();
    expect(keys(store)).toEqual([]);
    expect(error.code).toBe(ErrorCode.WriteFailed);
    expect(error.message).toMatch(
      /\(unknown\): connection reset before the write landed\. Nothing of the work was applied\.$/,
    );
  });

  it("a cancelled run whose undo keeps failing: partially applied, and the message says it was cancelled", async () => {
    const state = bench(["refuse", "refuse", "refuse"]);
    const cancel = new AbortController();
    const inner = state.store.faults;
    state.store.faults = async (point) => {
      if (point.phase === "after" && point.write.key === "k:a" && point.write.op === "put") {
        cancel.abort(new Error("the caller gave up"));
      }
      await inner?.(point);
    };
    const error = (
      await runAtomic(state.store, state.writes, { signal: cancel.signal })
    )._unsafeUnwrapErr();
    expect(keys(state.store)).toEqual(["k:a"]);
    assertPartial(error);
    expect(error.applied).toEqual(["a"]);
    expect(error.message).toMatch(
      /^The work on store "plain" was cancelled\. The undo of write "a" \(#0\)/,
    );
  });

  it("with a durable log, the message promises a recoverer without the in-memory caveat", async () => {
    const state = bench(["refuse", "refuse", "refuse"]);
    const memory = new MemorySagaLog();
    // The same log, declaring itself durable as a SQLite or Postgres log does.
    const log = new Proxy(memory, {
      get: (target, key) => {
        if (key === "durable") return true;
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const error = (await runAtomic(state.store, state.writes, { log }))._unsafeUnwrapErr();
    assertPartial(error);
    expect(error.recoverable).toBe(true);
    expect(error.message).toMatch(
      /The saga stays compensating in the saga log, where a recoverer given `atomicSaga\(store, writes\)` can finish the undo\.$/,
    );
  });

  it("a recoverer cannot rebuild the undo of a write without a probe: the saga stays compensating, saying why", async () => {
    const state = bench(["refuse", "refuse", "refuse"], { probeA: false });
    const log = new MemorySagaLog();
    const error = (await runAtomic(state.store, state.writes, { log }))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.PartiallyApplied);
    const recoverer = createRecoverer({
      runner: createRunner({ log, retry: { initialDelayMs: 0 } }),
      sagas: [atomicSaga(state.store, state.writes)],
    });
    const [saga] = (await recoverer.recover())._unsafeUnwrap().sagas;
    expect(saga?.outcome).toBe("compensating");
    expect(keys(state.store)).toEqual(["k:a"]);
    const entries = (await log.load(saga?.sagaId ?? ""))?.entries ?? [];
    const last = entries.filter((e) => e.type === "compensation_failed").at(-1);
    expect(last?.error?.message).toBe(
      'Write "a" has no probe to read back its result, gone with the process that made it, so its undo cannot be built.',
    );
  });

  it("refuses `log` together with `runner`", async () => {
    const state = bench([]);
    const result = await runAtomic(state.store, state.writes, {
      log: new MemorySagaLog(),
      runner: createRunner(),
    });
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toBe(
      "Expected either `runner` or `log`, not both: a runner already has its log.",
    );
    expect(state.store.writeCount).toBe(0);
  });
});

describe("runAtomic's in-doubt result is truthful", () => {
  function inDoubt(): { store: MemoryStore; writes: Write[] } {
    const store = createMemoryStore({ id: "plain", tier: "plain" });
    store.faults = (point) => {
      if (point.phase === "before" && point.write.key === "k:b") {
        throw new Error("connection reset");
      }
    };
    return {
      store,
      writes: [
        {
          name: "a",
          build: () => memoryPut("k:a", "A", "absent"),
          undo: (_h, r) => memoryDelete("k:a", r.version ?? -1),
          probe: async () => notCommitted(),
        },
        {
          name: "b",
          build: () => memoryPut("k:b", "B", "absent"),
          probe: async () => cannotTell("the replica is behind"),
        },
      ],
    };
  }

  it("with runAtomic's private log: no recoverer is promised, and the message names what is applied", async () => {
    const { store, writes } = inDoubt();
    const error = (await runAtomic(store, writes))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InDoubt);
    if (error.code !== ErrorCode.InDoubt) return;
    expect(keys(store)).toEqual(["k:a"]);
    expect(error.message).not.toMatch(/the recoverer will probe it again/);
    expect(error.message).toMatch(/no recoverer can see/);
    expect(error.message).toContain('write "a" (#0) is applied');
    expect(error.message).toContain('the outcome of write "b" (#1) is unknown');
    expect(error.message).toContain("the replica is behind");
    expect(error.sagaId).toBe(error.report.sagaId);
  });

  it("a first write in doubt: nothing else is applied, and the message says so", async () => {
    const { store, writes } = inDoubt();
    const [, b] = writes as [Write, Write];
    const error = (await runAtomic(store, [b]))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InDoubt);
    expect(error.message).toContain(
      'Nothing else of the work is applied, and the outcome of write "b" (#0) is unknown.',
    );
  });

  it("with a `log`: the message says a recoverer given atomicSaga can probe it again", async () => {
    const { store, writes } = inDoubt();
    const log = new MemorySagaLog();
    const error = (await runAtomic(store, writes, { log }))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InDoubt);
    if (error.code !== ErrorCode.InDoubt) return;
    expect(error.message).toContain('write "a" (#0) is applied');
    expect(error.message).toMatch(/a recoverer given `atomicSaga\(store, writes\)` can probe/);
    expect((await log.list()).map((r) => r.status)).toEqual(["in_doubt"]);
  });
});
