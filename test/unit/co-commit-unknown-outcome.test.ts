import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore, memoryPut } from "../../src/adapters/memory/index.js";
import {
  type SqliteSagaLog,
  type SqliteStore,
  type SqliteTransactionHandle,
  sqliteSagaLog,
  sqliteStore,
} from "../../src/adapters/sqlite/index.js";
import type { CallScope } from "../../src/core/deadline.js";
import {
  type AttemptFence,
  committed,
  compensated,
  createRunner,
  defineSaga,
  defineStore,
  ErrorCode,
  notCommitted,
  type SagaEvent,
  type SagaLog,
  StoreError,
} from "../../src/index.js";
import { SagaStatus } from "../../src/model/records.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { type TempDatabase, tempDatabase } from "../adapters/sqlite/temp-database.js";

/**
 * A co-committed group's COMMIT whose answer is lost: the store's transaction is a real SQLite
 * transaction on the log's own database, and `transaction` below decides, per call, what the caller
 * hears of it. The log, written in the same transaction, is what says whether the group landed.
 */
type Work = (tx: SqliteTransactionHandle) => Promise<unknown>;
type Transaction = (base: SqliteStore, work: Work, scope: CallScope) => Promise<unknown>;

/** Commits, then loses the answer: the caller gets an error of `kind`. */
const commitsThenFails =
  (kind: "unknown" | "timeout" | "not_committed"): Transaction =>
  async (base, work, scope) => {
    await base.transaction(work, scope);
    throw new StoreError(kind, "the connection dropped while COMMIT was answering");
  };

/** Rolls back, and the caller gets an error of `kind` that may not say so. */
const rollsBackWith =
  (kind: "unknown" | "timeout" | "not_committed"): Transaction =>
  async (base, work, scope) => {
    await base
      .transaction(async (tx) => {
        await work(tx);
        throw new Error("rolled back");
      }, scope)
      .catch(() => {});
    throw new StoreError(kind, "the connection dropped while COMMIT was answering");
  };

/** Commits as the store would. */
const commits: Transaction = (base, work, scope) => base.transaction(work, scope);

const openScope = (): CallScope => ({
  signal: new AbortController().signal,
  deadline: Number.POSITIVE_INFINITY,
});

describe("a co-committed group whose commit's outcome is unknown", () => {
  let temp: TempDatabase;
  let base: SqliteStore;
  let log: SqliteSagaLog;
  let clock: VirtualClock;

  beforeEach(async () => {
    temp = tempDatabase();
    base = sqliteStore(temp.db);
    log = sqliteSagaLog(temp.db);
    // SQLite answers through a few turns of the event loop: let them pass before time moves.
    clock = new VirtualClock(undefined, { idleTurns: 10 });
    await base.handle.run("CREATE TABLE orders (id TEXT PRIMARY KEY)");
  });

  afterEach(() => temp.remove());

  const rows = async () =>
    (await base.handle.all<{ id: string }>("SELECT id FROM orders ORDER BY id")).map((r) => r.id);

  /**
   * The log's database as a store of the given fence whose `n`th transaction (from 1) behaves as
   * `plan[n - 1]` says, and as a plain commit after the plan runs out.
   */
  function storeOf(plan: Transaction[], fence: AttemptFence = { mode: "in_process" }) {
    let calls = 0;
    return defineStore({
      id: base.id,
      handle: base.handle,
      capabilities: { transactions: true },
      fence,
      transaction: (work: Work, scope: CallScope) => {
        const behave = plan[calls++] ?? commits;
        return behave(base, work, scope);
      },
    });
  }

  /** A saga of `reserve` then `charge` (the pivot), both on `store`; `first` optionally before. */
  function orderSaga(
    store: ReturnType<typeof storeOf>,
    options: { first?: boolean; last?: boolean; timeoutMs?: number; attempts?: number } = {},
  ) {
    const counts = { reserve: 0, charge: 0, released: 0, noted: 0, shipped: 0 };
    const notes = createMemoryStore({ tier: "plain" });
    const stepOn = {
      store,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    };
    let builder = defineSaga("orders", { input: z.object({ id: z.string() }) });
    if (options.first) {
      builder = builder.step("note", {
        store: notes,
        kind: "compensatable",
        output: z.object({ noted: z.boolean() }),
        execute: async ({ input, handle }) => {
          counts.noted++;
          await memoryPut(handle, `note:${input.id}`, true);
          return { noted: true };
        },
        probe: async () => (counts.noted > 0 ? committed({ noted: true }) : notCommitted()),
        compensate: async () => compensated(),
      }) as unknown as typeof builder;
    }
    const group = builder
      .step("reserve", {
        ...stepOn,
        kind: "compensatable",
        retry: { attempts: options.attempts ?? 3, initialDelayMs: 1 },
        output: z.object({ id: z.string() }),
        execute: async ({ input, handle }) => {
          counts.reserve++;
          await handle.run("INSERT INTO orders (id) VALUES (?)", [`${input.id}:reserve`]);
          return { id: input.id };
        },
        probe: async () => notCommitted(),
        compensate: async () => {
          counts.released++;
          return compensated();
        },
      })
      .step("charge", {
        ...stepOn,
        kind: "pivot",
        retry: { attempts: options.attempts ?? 3, initialDelayMs: 1 },
        output: z.object({ charged: z.boolean() }),
        execute: async ({ input, handle }) => {
          counts.charge++;
          await handle.run("INSERT INTO orders (id) VALUES (?)", [`${input.id}:charge`]);
          return { charged: true };
        },
        probe: async () => notCommitted(),
      });
    const saga = options.last
      ? (group
          .step("ship", {
            store: notes,
            kind: "retriable",
            output: z.object({ shipped: z.boolean() }),
            execute: async () => {
              counts.shipped++;
              return { shipped: true };
            },
            probe: async () => notCommitted(),
          })
          .build() as unknown as ReturnType<typeof group.build>)
      : group.build();
    return { saga, counts };
  }

  async function run(
    saga: ReturnType<typeof orderSaga>["saga"],
    options: { log?: SagaLog; signal?: AbortSignal } = {},
  ) {
    const events: SagaEvent[] = [];
    const runner = createRunner({
      log: options.log ?? log,
      clock,
      onEvent: (e) => events.push(e),
    });
    const result = await clock.run(
      runner.run(saga, { id: "o-1" }, { sagaId: "saga-1", signal: options.signal }),
    );
    const snapshot = await log.load("saga-1");
    const entries = snapshot?.entries.map((e) => [e.step, e.type, e.attempt]);
    return { result, events, snapshot, entries };
  }

  it("that landed while creating the saga is found in the log written with it: the group is not run again", async () => {
    const { saga, counts } = orderSaga(storeOf([commitsThenFails("unknown")]), { last: true });
    const { result, snapshot, entries, events } = await run(saga);
    const report = result._unsafeUnwrap();
    expect(report.status).toBe(SagaStatus.Completed);
    expect(report.steps.map((s) => [s.name, s.status, s.attempts, s.committedVia])).toEqual([
      ["reserve", "committed", 1, "execute"],
      ["charge", "committed", 1, "execute"],
      ["ship", "committed", 1, "execute"],
    ]);
    expect(counts).toMatchObject({ reserve: 1, charge: 1, released: 0, shipped: 1 });
    expect(await rows()).toEqual(["o-1:charge", "o-1:reserve"]);
    expect(snapshot?.record.status).toBe(SagaStatus.Completed);
    expect(entries).toEqual([
      ["reserve", "committed", 1],
      ["charge", "committed", 1],
      ["ship", "intent", 1],
      ["ship", "committed", 1],
    ]);
    expect(events.filter((e) => e.type === "step.retrying")).toEqual([]);
    expect(events.filter((e) => e.type === "step.committed")).toMatchObject([
      { step: "reserve", attempt: 1, via: "execute" },
      { step: "charge", attempt: 1, via: "execute" },
      { step: "ship", attempt: 1, via: "execute" },
    ]);
  });

  it("that landed while creating and completing the saga leaves it completed, run once", async () => {
    const { saga, counts } = orderSaga(storeOf([commitsThenFails("unknown")]));
    const { result, snapshot, entries } = await run(saga);
    expect(result._unsafeUnwrap().status).toBe(SagaStatus.Completed);
    expect(counts).toMatchObject({ reserve: 1, charge: 1, released: 0 });
    expect(await rows()).toEqual(["o-1:charge", "o-1:reserve"]);
    expect(snapshot?.record.status).toBe(SagaStatus.Completed);
    expect(entries).toEqual([
      ["reserve", "committed", 1],
      ["charge", "committed", 1],
    ]);
  });

  it("that landed after an earlier step created the saga is found the same way", async () => {
    const { saga, counts } = orderSaga(storeOf([commitsThenFails("timeout")]), { first: true });
    const { result, entries } = await run(saga);
    expect(result._unsafeUnwrap().status).toBe(SagaStatus.Completed);
    expect(counts).toMatchObject({ noted: 1, reserve: 1, charge: 1, released: 0 });
    expect(await rows()).toEqual(["o-1:charge", "o-1:reserve"]);
    expect(entries).toEqual([
      ["note", "intent", 1],
      ["note", "committed", 1],
      ["reserve", "committed", 1],
      ["charge", "committed", 1],
    ]);
  });

  it("that rolled back is run again once the log shows it did not land", async () => {
    const { saga, counts } = orderSaga(storeOf([rollsBackWith("unknown")]), { first: true });
    const { result, entries, events } = await run(saga);
    const report = result._unsafeUnwrap();
    expect(report.status).toBe(SagaStatus.Completed);
    expect(report.steps.map((s) => [s.name, s.status, s.attempts])).toEqual([
      ["note", "committed", 1],
      ["reserve", "committed", 2],
      ["charge", "committed", 2],
    ]);
    expect(counts).toMatchObject({ reserve: 2, charge: 2, released: 0 });
    expect(await rows()).toEqual(["o-1:charge", "o-1:reserve"]);
    expect(entries).toEqual([
      ["note", "intent", 1],
      ["note", "committed", 1],
      ["reserve", "intent", 1],
      ["reserve", "not_committed", 1],
      ["charge", "intent", 1],
      ["charge", "not_committed", 1],
      ["reserve", "committed", 2],
      ["charge", "committed", 2],
    ]);
    expect(events.filter((e) => e.type === "step.retrying")).toMatchObject([
      { step: "charge", attempt: 1 },
    ]);
  });

  it("on a store that cannot close an attempt, is in doubt when the log does not show it", async () => {
    const { saga, counts } = orderSaga(storeOf([rollsBackWith("unknown")], { mode: "none" }), {
      first: true,
    });
    const { result, snapshot } = await run(saga);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InDoubt);
    expect(snapshot?.record.status).toBe(SagaStatus.InDoubt);
    // Nothing is compensated or retried: the commit may still land.
    expect(counts).toMatchObject({ noted: 1, reserve: 1, charge: 1, released: 0 });
    expect(await rows()).toEqual([]);
  });

  it("on a store that cannot close an attempt, is still found when the log shows it", async () => {
    const { saga, counts } = orderSaga(storeOf([commitsThenFails("unknown")], { mode: "none" }), {
      first: true,
    });
    const { result } = await run(saga);
    expect(result._unsafeUnwrap().status).toBe(SagaStatus.Completed);
    expect(counts).toMatchObject({ reserve: 1, charge: 1 });
  });
});
