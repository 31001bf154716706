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
  cannotTell,
  committed,
  createRunner,
  MemorySagaLog,
  notCommitted,
  type RunAtomicOptions,
  runAtomic,
  type SagaLog,
  StoreError,
} from "../../src/index.js";

/**
 * The whole message of each way runAtomic's sequential strategy can leave work partly applied or
 * in doubt: the one place a caller learns which writes to check or undo, so every clause counts.
 */

type Write = AtomicWrite<MemoryHandle, MemoryWrite, MemoryWriteResult>;

/** What the store does to the undo of a write, by the write's name. */
type UndoFault = "refuse" | "reply_lost";

/**
 * Inserts "a", "b" and "c" on a plain store; "c" is always refused, so "b" and "a" are undone in
 * that order, and each undo meets `undoFaults[name]` on every attempt. `probes` says which writes
 * have a probe (all by default) and what it answers ("read": reads the store).
 */
function threeInserts(
  undoFaults: Partial<Record<string, UndoFault>>,
  probes: Partial<Record<string, "read" | "none" | "cannot_tell" | "no_reason" | "throws">> = {},
  names: readonly string[] = ["a", "b", "c"],
): { store: MemoryStore; writes: Write[] } {
  const refused = names[names.length - 1];
  const store = createMemoryStore({ id: "plain", tier: "plain" });
  store.faults = (point) => {
    if (point.phase === "committed") return;
    const name = point.write.key.slice(2);
    if (name === refused && point.phase === "before") {
      throw new StoreError("not_committed", `${refused} refused`);
    }
    if (point.write.op !== "delete") return;
    const fault = undoFaults[name];
    if (fault === "refuse" && point.phase === "before") {
      throw new StoreError("not_committed", `the undo of ${name} was refused`);
    }
    if (fault === "reply_lost" && point.phase === "after") throw new Error("connection reset");
  };
  const write = (name: string): Write => {
    const probe = probes[name] ?? "read";
    return {
      name,
      build: () => memoryPut(`k:${name}`, name, "absent"),
      undo: (_h, result) => memoryDelete(`k:${name}`, result.version ?? -1),
      ...(probe === "none"
        ? {}
        : {
            probe: async (handle: MemoryHandle) => {
              if (probe === "cannot_tell") return cannotTell("the replica is behind");
              if (probe === "no_reason") return cannotTell();
              if (probe === "throws") throw new Error("the replica is unreachable");
              const doc = await handle.get(`k:${name}`);
              return doc === undefined
                ? notCommitted()
                : committed({ affected: 1 as const, version: doc.version });
            },
          }),
    };
  };
  return { store, writes: names.map(write) };
}

/** The error's message with its saga's id replaced by `<saga>`. */
async function messageOf(
  world: { store: MemoryStore; writes: Write[] },
  options: RunAtomicOptions = {},
): Promise<{ error: AtomicError; message: string }> {
  const error = (await runAtomic(world.store, world.writes, options))._unsafeUnwrapErr();
  const sagaId = "sagaId" in error ? String(error.sagaId) : "";
  return { error, message: error.message.replaceAll(sagaId, "<saga>") };
}

/** A memory log that says it is durable, as a SQLite or Postgres log would. */
function durableLog(): SagaLog {
  return new Proxy(new MemorySagaLog(), {
    get(target, property) {
      if (property === "durable") return true;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const FAILED = 'Write "c" (#2) on store "plain" failed (not_committed): c refused.';
const PRIVATE_A =
  'The saga lives in runAtomic\'s own in-memory log, where no recoverer can see it: undo write "a" (#0) yourself, or pass runAtomic a `log` so that a recoverer given `atomicSaga(store, writes)` can finish it.';
const PRIVATE_AB =
  'The saga lives in runAtomic\'s own in-memory log, where no recoverer can see it: undo write "a" (#0) and write "b" (#1) yourself, or pass runAtomic a `log` so that a recoverer given `atomicSaga(store, writes)` can finish it.';

describe("runAtomic's message when an undo keeps failing", () => {
  it("one write left: names it, the undo's last error, and what to do with runAtomic's own log", async () => {
    const { message } = await messageOf(threeInserts({ a: "refuse" }));
    expect(message).toBe(
      `${FAILED} The undo of write "a" (#0) then failed on every attempt of the retry policy, the last with: the undo of a was refused. The work is partly applied (saga "<saga>"): write "a" (#0) is not undone. ${PRIVATE_A}`,
    );
  });

  it("two writes left: names both, in order", async () => {
    const { message } = await messageOf(threeInserts({ b: "refuse" }));
    expect(message).toBe(
      `${FAILED} The undo of write "b" (#1) then failed on every attempt of the retry policy, the last with: the undo of b was refused. The work is partly applied (saga "<saga>"): write "a" (#0) and write "b" (#1) are not undone. ${PRIVATE_AB}`,
    );
  });

  it("with a memory log given: a recoverer in this process can finish it, and a crash loses it", async () => {
    const { message, error } = await messageOf(threeInserts({ b: "refuse" }), {
      log: new MemorySagaLog(),
    });
    expect(error.code === "partially_applied" && error.recoverable).toBe(true);
    expect(message.slice(message.indexOf("are not undone."))).toBe(
      "are not undone. The saga stays compensating in the given in-memory saga log, where a recoverer given `atomicSaga(store, writes)` can finish the undo (in this process only: a crash loses it).",
    );
  });

  it("with a runner over a memory log: the same as a memory log given", async () => {
    const { message } = await messageOf(threeInserts({ b: "refuse" }), {
      runner: createRunner({ log: new MemorySagaLog() }),
    });
    expect(message).toContain("The saga stays compensating in the given in-memory saga log");
  });

  it("three writes left: lists them all", async () => {
    const { message } = await messageOf(threeInserts({ c: "refuse" }, {}, ["a", "b", "c", "d"]));
    expect(message).toContain(
      'The work is partly applied (saga "<saga>"): write "a" (#0), write "b" (#1) and write "c" (#2) are not undone.',
    );
  });

  it("with a durable log: a recoverer can finish it, without the in-process caveat", async () => {
    const { message } = await messageOf(threeInserts({ b: "refuse" }), { log: durableLog() });
    expect(message.slice(message.indexOf("are not undone."))).toBe(
      "are not undone. The saga stays compensating in the saga log, where a recoverer given `atomicSaga(store, writes)` can finish the undo.",
    );
  });
});

describe("runAtomic's message when whether an undo landed is unknown", () => {
  it("nothing else left: the work may be partly applied", async () => {
    const { message } = await messageOf(threeInserts({ a: "reply_lost" }, { a: "none" }));
    expect(message).toBe(
      `${FAILED} Whether the undo of write "a" (#0) landed cannot be checked: connection reset. The work may be partly applied (saga "<saga>"): whether write "a" (#0) is undone is unknown. ${PRIVATE_A}`,
    );
  });

  it("the probe cannot tell after a lost reply: says so, with the probe's reason", async () => {
    const { message, error } = await messageOf(
      threeInserts({ a: "reply_lost" }, { a: "cannot_tell" }),
    );
    expect(error.code === "partially_applied" && error.reason).toBe("outcome_unknown");
    expect(message).toContain(
      'Whether the undo of write "a" (#0) landed cannot be checked: The probe of write "a" cannot tell whether its undo landed before a lost reply: the replica is behind.',
    );
  });

  it("the probe cannot tell after a lost reply, giving no reason: says that too", async () => {
    const { message } = await messageOf(threeInserts({ a: "reply_lost" }, { a: "no_reason" }));
    expect(message).toContain(
      'cannot be checked: The probe of write "a" cannot tell whether its undo landed before a lost reply: it gave no reason.',
    );
  });

  it("an earlier write left too: names the one applied and the one unknown apart", async () => {
    const { message } = await messageOf(threeInserts({ b: "reply_lost" }, { b: "none" }));
    expect(message).toBe(
      `${FAILED} Whether the undo of write "b" (#1) landed cannot be checked: connection reset. The work is partly applied (saga "<saga>"): write "a" (#0) is not undone, and whether write "b" (#1) is undone is unknown. ${PRIVATE_AB}`,
    );
  });
});

describe("runAtomic's message when an undo found its target changed", () => {
  it("names the write, and says no recoverer undoes it", async () => {
    const world = threeInserts({});
    const faults = world.store.faults;
    world.store.faults = async (point) => {
      // Another writer moves "a" on just before "c" is refused.
      if (point.phase === "before" && point.write.key === "k:c") {
        await world.store.handle.put("k:a", "someone else's");
      }
      await faults?.(point);
    };
    const log = new MemorySagaLog();
    const { message, error } = await messageOf(world, { log });
    expect(error.code === "partially_applied" && error.recoverable).toBe(false);
    // The saga waits for a person, whom the log tells what the undo found.
    const [record] = await log.list();
    expect(record?.attention?.message).toBe(
      'The compensation of step "0:a" found state it did not write and undid nothing: the undo of write "a" found its target changed by another writer.',
    );
    expect(message).toBe(
      `${FAILED} The undo of write "a" (#0) found its target changed by another writer and undid nothing. The work is partly applied (saga "<saga>"): write "a" (#0) is not undone. No recoverer undoes a write another writer changed since: decide by hand whether it should be.`,
    );
  });
});

describe("runAtomic's message when a write is in doubt", () => {
  for (const [probe, why] of [
    ["cannot_tell", "the replica is behind"],
    ["none", "the write has no probe"],
    ["no_reason", "it could not tell"],
    ["throws", "it could not tell"],
  ] as const) {
    it(`names the failure, why its probe (${probe}) could not tell, and what is applied`, async () => {
      const world = threeInserts({}, { b: probe });
      world.store.faults = (point) => {
        if (point.phase === "after" && point.write.key === "k:b")
          throw new Error("connection reset");
      };
      world.writes.pop();
      const { message } = await messageOf(world, { log: new MemorySagaLog() });
      expect(message).toBe(
        `The outcome of write "b" (#1) on store "plain" is unknown: it failed (unknown: connection reset) and its probe could not tell (${why}). The work is partly applied: write "a" (#0) is applied, and the outcome of write "b" (#1) is unknown. Saga "<saga>" is parked in_doubt in the given in-memory saga log, where a recoverer given \`atomicSaga(store, writes)\` can probe it again (in this process only: a crash loses it).`,
      );
    });
  }

  it("with two writes applied before it: names both", async () => {
    const world = threeInserts({}, { c: "cannot_tell" });
    world.store.faults = (point) => {
      if (point.phase === "after" && point.write.key === "k:c") throw new Error("connection reset");
    };
    const { message } = await messageOf(world);
    expect(message).toContain(
      'The work is partly applied: write "a" (#0) and write "b" (#1) are applied, and the outcome of write "c" (#2) is unknown.',
    );
  });
});
