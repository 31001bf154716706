import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import { sqliteSagaLog, sqliteStore } from "../../src/adapters/sqlite/index.js";
import {
  committed,
  createRunner,
  defineSaga,
  defineStore,
  ErrorCode,
  MemorySagaLog,
  notCommitted,
  type SagaChange,
  type SagaLog,
  SagaLogError,
  SagaStatus,
  StoreError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { type TempDatabase, tempDatabase } from "../adapters/sqlite/temp-database.js";

const TTL = 1_000;

/** What the runner handed the log: each write's token and change, each renewal's answer. */
interface Calls {
  writes: { token: number; change: SagaChange }[];
  renewals: { at: number; token: number; renewed: boolean | "failed" }[];
}

/**
 * `inner` seen through a proxy that records writes and renewals; `hooks` may answer a call in
 * its place (return `undefined` to let `inner` answer).
 */
function recording(
  inner: SagaLog,
  hooks: {
    write?: (sagaId: string, token: number, change: SagaChange) => Promise<void> | undefined;
    renewLease?: (
      sagaId: string,
      token: number,
      ttl: number,
      now: number,
    ) => Promise<boolean> | undefined;
    load?: (sagaId: string) => ReturnType<SagaLog["load"]> | undefined;
  } = {},
): { log: SagaLog; calls: Calls } {
  const calls: Calls = { writes: [], renewals: [] };
  const log = new Proxy(inner, {
    get(target, property) {
      if (property === "write") {
        return (sagaId: string, token: number, change: SagaChange) => {
          calls.writes.push({ token, change });
          return hooks.write?.(sagaId, token, change) ?? target.write(sagaId, token, change);
        };
      }
      if (property === "renewLease") {
        return async (sagaId: string, token: number, ttl: number, now: number) => {
          const entry: Calls["renewals"][number] = { at: now, token, renewed: "failed" };
          calls.renewals.push(entry);
          const renewed = await (hooks.renewLease?.(sagaId, token, ttl, now) ??
            target.renewLease(sagaId, token, ttl, now));
          entry.renewed = renewed;
          return renewed;
        };
      }
      if (property === "load" && hooks.load !== undefined) {
        return (sagaId: string) => hooks.load?.(sagaId) ?? target.load(sagaId);
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { log, calls };
}

/** charge (the pivot) then notify (retriable); each may wait on the clock or fail first. */
function world(
  clock: VirtualClock,
  options: {
    chargeMs?: number;
    notifyMs?: number;
    notifyProbe?: boolean;
    /** Adds a third step, audit (probed, in memory), so notify's commit is not the last write. */
    audit?: boolean;
    during?: { start(): void; end(): void };
  } = {},
) {
  const store = createMemoryStore({ id: "shop", tier: "plain" });
  const wait = (ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms));
  const steps = defineSaga("order", { input: z.object({ id: z.string() }) })
    .step("charge", {
      store,
      kind: "pivot",
      output: z.object({ charge: z.string() }),
      timeoutMs: 60_000,
      execute: async ({ input, handle }) => {
        options.during?.start();
        if (options.chargeMs) await wait(options.chargeMs);
        options.during?.end();
        await handle.put(`charge:${input.id}`, 1);
        return { charge: `c-${input.id}` };
      },
      probe: async ({ input, handle }) =>
        (await handle.get(`charge:${input.id}`)) === undefined
          ? notCommitted()
          : committed({ charge: `c-${input.id}` }),
    })
    .step("notify", {
      store,
      kind: "retriable",
      output: z.null(),
      timeoutMs: 60_000,
      execute: async ({ handle, input }) => {
        if (options.notifyMs) await wait(options.notifyMs);
        await handle.put(`notice:${input.id}`, 1);
        return null;
      },
      ...(options.notifyProbe
        ? {
            probe: async ({
              handle,
              input,
            }: {
              handle: typeof store.handle;
              input: { id: string };
            }) =>
              (await handle.get(`notice:${input.id}`)) === undefined
                ? notCommitted()
                : committed(null),
          }
        : {}),
    });
  const saga = options.audit
    ? steps
        .step("audit", {
          store,
          kind: "retriable",
          output: z.null(),
          execute: async () => null,
          probe: async () => notCommitted(),
        })
        .build()
    : steps.build();
  return { store, saga };
}

const shape = (calls: Calls) =>
  calls.writes.map(({ token, change }) => ({
    token,
    expectSeq: change.expectSeq,
    entries: (change.entries ?? []).map((e) => `${e.step}:${e.type}`),
    ...(change.status === undefined ? {} : { status: change.status }),
    ...("messages" in change ? { messages: change.messages } : {}),
  }));

const run = (clock: VirtualClock, log: SagaLog, saga: ReturnType<typeof world>["saga"]) =>
  clock.run(
    createRunner({ log, clock, leaseTtlMs: TTL }).run(saga, { id: "o-1" }, { sagaId: "s-1" }),
  );

const T0 = new VirtualClock().now();
const renewed = (calls: Calls) => calls.renewals.map((r) => [r.at - T0, r.renewed]);

/** Lets heartbeat renewals fail (`"reject"`) or be refused (`"refuse"`) while a mode is set. */
function outage() {
  const state: { mode: "ok" | "reject" | "refuse" } = { mode: "ok" };
  const renewLease = () =>
    state.mode === "reject"
      ? Promise.reject(new Error("the log is unreachable"))
      : state.mode === "refuse"
        ? Promise.resolve(false)
        : undefined;
  return { state, renewLease };
}

describe("the log writes of a run", () => {
  it("each state the saga's version they were computed from, and carry no outbox field", async () => {
    const clock = new VirtualClock();
    const { log, calls } = recording(new MemorySagaLog());
    const { saga } = world(clock, { notifyProbe: true });
    expect((await run(clock, log, saga)).isOk()).toBe(true);
    expect(shape(calls)).toEqual([
      { token: 1, expectSeq: 1, entries: ["charge:committed", "notify:intent"] },
      { token: 1, expectSeq: 3, entries: ["notify:committed"], status: SagaStatus.Completed },
    ]);
    // Steps that finish well within the lease never ask the log to renew it.
    expect(calls.renewals).toEqual([]);
  });

  it("of a saga resumed from a record without entries write its first step's intent first", async () => {
    const clock = new VirtualClock();
    const inner = new MemorySagaLog();
    const { saga } = world(clock, { notifyProbe: true });
    const now = clock.now();
    await inner.create({
      schemaVersion: 1,
      sagaId: "s-1",
      definition: saga.definition,
      input: { id: "o-1" },
      status: SagaStatus.Running,
      attention: null,
      fencingToken: 1,
      leaseOwner: null,
      leaseExpiresAt: null,
      recoveryAttempts: 0,
      nextRecoveryAt: 0,
      createdAt: now,
      updatedAt: now,
    });
    const { log, calls } = recording(inner);
    expect((await run(clock, log, saga)).isOk()).toBe(true);
    expect(shape(calls)).toEqual([
      { token: 2, expectSeq: 0, entries: ["charge:intent"] },
      { token: 2, expectSeq: 1, entries: ["charge:committed", "notify:intent"] },
      { token: 2, expectSeq: 3, entries: ["notify:committed"], status: SagaStatus.Completed },
    ]);
  });

  it("computed from a stale read of the saga are refused, and the run stops", async () => {
    const clock = new VirtualClock();
    const inner = new MemorySagaLog();
    const mailer = { down: true };
    const { saga } = world(clock, { notifyProbe: true });
    // A first run leaves the saga incomplete: its notify failed (a transient error, no retries).
    const failing = recording(inner, {
      write: (_id, _token, change) =>
        mailer.down && change.entries?.some((e) => e.type === "committed" && e.step === "notify")
          ? Promise.reject(new SagaLogError("io", "s-1", "the mailer is down"))
          : undefined,
    });
    expect((await run(clock, failing.log, saga))._unsafeUnwrapErr().code).toBe(ErrorCode.LogFailed);
    const entries = (await inner.load("s-1"))?.entries ?? [];
    expect(entries.map((e) => `${e.step}:${e.type}`)).toEqual([
      "charge:intent",
      "charge:committed",
      "notify:intent",
    ]);
    mailer.down = false;
    clock.advance(2 * TTL);
    // The resubmission reads the saga from a replica that lacks its last entry.
    const stale = recording(inner, {
      load: async (id) => {
        const snapshot = await inner.load(id);
        return snapshot && { ...snapshot, entries: snapshot.entries.slice(0, -1) };
      },
    });
    const error = (await run(clock, stale.log, saga))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.LogFailed);
    expect(error.message).toBe(
      'The saga log failed while running saga "s-1": Saga "s-1" has changed since the writer read it (its last entry is number 3, the write expected 2); the write was refused.. Recovery will resume it once its lease expires.',
    );
    expect(stale.calls.writes.map((w) => w.change.expectSeq)).toEqual([2]);
    expect((await inner.load("s-1"))?.entries).toHaveLength(3);
  });

  it("that fail end the run as a log failure, recovery left to resume it", async () => {
    const clock = new VirtualClock();
    const inner = new MemorySagaLog();
    const { saga } = world(clock, { notifyProbe: true });
    const { log } = recording(inner, {
      write: (id, _token, change) =>
        change.status === SagaStatus.Completed
          ? Promise.reject(new SagaLogError("io", id, "connection reset"))
          : undefined,
    });
    const error = (await run(clock, log, saga))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.LogFailed);
    expect(error.message).toBe(
      'The saga log failed while running saga "s-1": connection reset. Recovery will resume it once its lease expires.',
    );
    expect((await inner.load("s-1"))?.record.status).toBe(SagaStatus.Running);
  });

  it("that never answer time out, naming the saga and the deadline", async () => {
    const clock = new VirtualClock();
    const inner = new MemorySagaLog();
    const { saga } = world(clock, { notifyProbe: true });
    const { log } = recording(inner, {
      write: (_id, _token, change) =>
        change.status === SagaStatus.Completed ? new Promise(() => {}) : undefined,
    });
    const runner = createRunner({ log, clock, leaseTtlMs: TTL, timeoutMs: 500 });
    const error = (
      await clock.run(runner.run(saga, { id: "o-1" }, { sagaId: "s-1" }))
    )._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.LogFailed);
    expect(error.message).toBe(
      'The saga log failed while running saga "s-1": The saga log did not answer within 500 ms while running saga "s-1".. Recovery will resume it once its lease expires.',
    );
    const cause = (error as { cause?: unknown }).cause;
    expect(SagaLogError.is(cause) && cause.reason).toBe("io");
  });

  it("after a write that raises the fencing token go under the new token", async () => {
    const clock = new VirtualClock();
    const inner = new MemorySagaLog();
    const tokens: string[] = [];
    const landed = new Set<string>();
    const provider = defineStore({ id: "provider", handle: {}, fence: { mode: "fence_token" } });
    const saga = defineSaga("pay", { input: z.object({ id: z.string() }) })
      .step("pay", {
        store: provider,
        kind: "pivot",
        output: z.object({ paid: z.boolean() }),
        execute: async ({ input, fencingToken }) => {
          tokens.push(`execute:${fencingToken}`);
          landed.add(input.id);
          throw new Error("socket hang up");
        },
        probe: async ({ input, fencingToken }) => {
          tokens.push(`probe:${fencingToken}`);
          return landed.has(input.id) ? committed({ paid: true }) : notCommitted();
        },
      })
      .build();
    const { log, calls } = recording(inner);
    const report = (
      await clock.run(
        createRunner({ log, clock, leaseTtlMs: TTL }).run(saga, { id: "o-1" }, { sagaId: "s-1" }),
      )
    )._unsafeUnwrap();
    expect(report.status).toBe(SagaStatus.Completed);
    expect(tokens).toEqual(["execute:1", "probe:2"]);
    expect(calls.writes.map((w) => [w.token, w.change.fence === true])).toEqual([
      [1, true],
      [2, false],
    ]);
    const snapshot = await inner.load("s-1");
    expect(snapshot?.record.fencingToken).toBe(2);
    expect(snapshot?.entries.map((e) => [e.type, e.token])).toEqual([
      ["intent", 1],
      ["unknown", 1],
      ["committed", 2],
    ]);
  });
});

describe("the lease a run holds", () => {
  for (const [ms, expected] of [
    [400, [[333, "failed"]]],
    [
      500,
      [
        [333, "failed"],
        [500, true],
      ],
    ],
    [
      900,
      [
        [333, "failed"],
        [666, "failed"],
        [900, true],
      ],
    ],
  ] as const) {
    it(`is renewed before a write once half of it has run out: a step of ${ms} ms`, async () => {
      const clock = new VirtualClock();
      const down = outage();
      const { log, calls } = recording(new MemorySagaLog(), { renewLease: down.renewLease });
      const during = {
        start: () => (down.state.mode = "reject"),
        end: () => (down.state.mode = "ok"),
      };
      const { saga } = world(clock, { chargeMs: ms, notifyProbe: true, audit: true, during });
      expect((await run(clock, log, saga)).isOk()).toBe(true);
      expect(renewed(calls)).toEqual(expected);
    });
  }

  it("is not renewed again by a write when its heartbeat renewed it", async () => {
    const clock = new VirtualClock();
    const { log, calls } = recording(new MemorySagaLog());
    const { saga } = world(clock, { chargeMs: 900, notifyProbe: true });
    expect((await run(clock, log, saga)).isOk()).toBe(true);
    expect(renewed(calls)).toEqual([
      [333, true],
      [666, true],
    ]);
  });

  it("is not renewed by the write that ends the saga and lets it go", async () => {
    const clock = new VirtualClock();
    const down = outage();
    down.state.mode = "reject";
    const inner = new MemorySagaLog();
    const { log, calls } = recording(inner, { renewLease: down.renewLease });
    const { saga } = world(clock, { chargeMs: 600 });
    expect((await run(clock, log, saga)).isOk()).toBe(true);
    expect(renewed(calls)).toEqual([[333, "failed"]]);
    expect((await inner.load("s-1"))?.record.status).toBe(SagaStatus.Completed);
  });

  for (const when of ["by its heartbeat", "before a write"] as const) {
    it(`refused ${when} stops the run as taken over, writing nothing more`, async () => {
      const clock = new VirtualClock();
      const down = outage();
      const inner = new MemorySagaLog();
      const { log } = recording(inner, { renewLease: down.renewLease });
      const during =
        when === "by its heartbeat"
          ? { start: () => (down.state.mode = "refuse"), end: () => {} }
          : { start: () => (down.state.mode = "reject"), end: () => (down.state.mode = "refuse") };
      const { saga } = world(clock, {
        chargeMs: when === "by its heartbeat" ? 400 : 500,
        notifyProbe: true,
        during,
      });
      const error = (await run(clock, log, saga))._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.LeaseLost);
      expect(error.message).toBe(
        'Saga "s-1" was taken over by another runner after this runner\'s lease expired; this runner stopped writing.',
      );
      const snapshot = await inner.load("s-1");
      expect(snapshot?.entries.map((e) => `${e.step}:${e.type}`)).toEqual(["charge:intent"]);
      expect(snapshot?.record.status).toBe(SagaStatus.Running);
    });
  }

  it("is kept alive by its heartbeat again once the log is back after failed renewals", async () => {
    const clock = new VirtualClock();
    const down = outage();
    const inner = new MemorySagaLog();
    const { log } = recording(inner, { renewLease: down.renewLease });
    const claims: string[][] = [];
    const wait = (ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms));
    const store = createMemoryStore({ id: "shop", tier: "plain" });
    const saga = defineSaga("long", { input: z.object({ id: z.string() }) })
      .step("work", {
        store,
        kind: "pivot",
        output: z.null(),
        timeoutMs: 60_000,
        execute: async () => {
          down.state.mode = "reject";
          await wait(400);
          down.state.mode = "ok";
          await wait(3 * TTL);
          const claimed = await inner.claimRecoverable("runner-b", TTL, clock.now(), 10);
          claims.push(claimed.map((c) => c.sagaId));
          return null;
        },
        probe: async () => notCommitted(),
      })
      .build();
    const result = await clock.run(
      createRunner({ log, clock, leaseTtlMs: TTL }).run(saga, { id: "o-1" }, { sagaId: "s-1" }),
    );
    expect(claims).toEqual([[]]);
    expect(result.isOk()).toBe(true);
  });
});

/** Holds each renewal asked while `holding`, until `release` lets the log answer it (or fail). */
function heldRenewals(inner: SagaLog) {
  const held: ((fail: boolean) => void)[] = [];
  const state = { holding: false };
  const renewLease = (sagaId: string, token: number, ttl: number, now: number) => {
    if (!state.holding) return undefined;
    return new Promise<boolean>((resolve, reject) => {
      held.push((fail) =>
        fail
          ? reject(new Error("the log is unreachable"))
          : resolve(inner.renewLease(sagaId, token, ttl, now)),
      );
    });
  };
  const release = (fail = false) => {
    state.holding = false;
    for (const answer of held.splice(0)) answer(fail);
  };
  return { state, renewLease, release, held };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("the lease heartbeat", () => {
  it("takes a renewal refused because the run itself raised the fencing token for no takeover", async () => {
    const clock = new VirtualClock();
    const inner = new MemorySagaLog();
    const hold = heldRenewals(inner);
    const landed = new Set<string>();
    const provider = defineStore({ id: "provider", handle: {}, fence: { mode: "fence_token" } });
    const saga = defineSaga("pay", { input: z.object({ id: z.string() }) })
      .step("pay", {
        store: provider,
        kind: "pivot",
        output: z.object({ paid: z.boolean() }),
        timeoutMs: 60_000,
        execute: async ({ input }) => {
          // The heartbeat asks for a renewal under token 1; its answer comes after the fence.
          hold.state.holding = true;
          await new Promise<void>((resolve) => clock.setTimer(resolve, 400));
          landed.add(input.id);
          throw new Error("socket hang up");
        },
        probe: async ({ input }) => {
          expect(hold.held).toHaveLength(1);
          hold.release();
          await settle();
          return landed.has(input.id) ? committed({ paid: true }) : notCommitted();
        },
      })
      .step("notify", {
        store: createMemoryStore({ id: "mailer", tier: "plain" }),
        kind: "retriable",
        output: z.null(),
        execute: async () => null,
        probe: async () => notCommitted(),
      })
      .build();
    const { log, calls } = recording(inner, { renewLease: hold.renewLease });
    const result = await clock.run(
      createRunner({ log, clock, leaseTtlMs: TTL }).run(saga, { id: "o-1" }, { sagaId: "s-1" }),
    );
    expect(result.isOk(), result.isErr() ? result.error.message : "").toBe(true);
    expect(calls.renewals.map((r) => [r.token, r.renewed])).toEqual([[1, false]]);
    // The writes after the fence, the one that starts notify and the last, go on under token 2.
    expect(calls.writes.map((w) => [w.token, w.change.fence === true])).toEqual([
      [1, true],
      [2, false],
      [2, false],
    ]);
    expect((await inner.load("s-1"))?.record.status).toBe(SagaStatus.Completed);
  });

  for (const fail of [false, true]) {
    it(`stops with the run: a renewal that ${fail ? "fails" : "answers"} after it ended schedules nothing more`, async () => {
      const clock = new VirtualClock();
      const inner = new MemorySagaLog();
      const hold = heldRenewals(inner);
      const during = { start: () => (hold.state.holding = true), end: () => {} };
      const { saga } = world(clock, { chargeMs: 400, during });
      const { log, calls } = recording(inner, { renewLease: hold.renewLease });
      expect((await run(clock, log, saga)).isOk()).toBe(true);
      expect(hold.held).toHaveLength(1);
      hold.release(fail);
      await settle();
      expect(clock.pending).toBe(0);
      clock.advance(10 * TTL);
      await settle();
      expect(calls.renewals).toHaveLength(1);
    });
  }
});

describe("a saga whose first step co-commits, retried before its record exists", () => {
  let temp: TempDatabase | undefined;
  afterEach(() => temp?.remove());

  it("renews no lease until the record exists, then holds the one its creation set", async () => {
    temp = tempDatabase();
    const store = sqliteStore(temp.db, { id: "orders-db" });
    const inner = sqliteSagaLog(temp.db, { store });
    await store.handle.run("CREATE TABLE orders (id TEXT PRIMARY KEY)");
    const clock = new VirtualClock();
    const mailer = createMemoryStore({ id: "mailer", tier: "plain" });
    let tries = 0;
    const saga = defineSaga("checkout", { input: z.object({ id: z.string() }) })
      .step("place", {
        store,
        kind: "pivot",
        output: z.object({ row: z.string() }),
        // The backoff outlasts half the lease, with heartbeats in it.
        retry: { attempts: 2, initialDelayMs: 800, maxDelayMs: 800, jitter: 0 },
        execute: async ({ input, handle }) => {
          if (++tries === 1) throw new StoreError("transient", "database is locked");
          await handle.run("INSERT INTO orders (id) VALUES (?)", [input.id]);
          return { row: input.id };
        },
        probe: async () => notCommitted(),
      })
      .step("notify", {
        store: mailer,
        kind: "retriable",
        output: z.null(),
        execute: async () => null,
        probe: async () => notCommitted(),
      })
      .build();
    const { log, calls } = recording(inner);
    const report = (
      await clock.run(
        createRunner({ log, clock, leaseTtlMs: TTL }).run(saga, { id: "o-1" }, { sagaId: "s-1" }),
      )
    )._unsafeUnwrap();
    expect(report.status).toBe(SagaStatus.Completed);
    expect(report.steps.map((s) => [s.name, s.strategy, s.attempts])).toEqual([
      ["place", "co_committed", 2],
      ["notify", "saga", 1],
    ]);
    expect(calls.renewals).toEqual([]);
    expect(tries).toBe(2);
  });
});

describe("the version a co-committed group's write expects", () => {
  let temp: TempDatabase | undefined;
  afterEach(() => temp?.remove());

  /**
   * pay (the pivot, on a provider that fences by token; its first call's outcome is lost), then
   * place (co-committed on SQLite), then notify (probed, in memory). `failFence` makes the log
   * fail the write that raises the fencing token, so the run goes on without knowing the saga's
   * version.
   */
  async function fencedWorld(failFence: boolean) {
    temp = tempDatabase();
    const store = sqliteStore(temp.db, { id: "orders-db" });
    const inner = sqliteSagaLog(temp.db, { store });
    await store.handle.run("CREATE TABLE orders (id TEXT PRIMARY KEY)");
    const clock = new VirtualClock();
    const provider = defineStore({ id: "provider", handle: {}, fence: { mode: "fence_token" } });
    const mailer = createMemoryStore({ id: "mailer", tier: "plain" });
    const landed = new Set<string>();
    const saga = defineSaga("checkout", { input: z.object({ id: z.string() }) })
      .step("pay", {
        store: provider,
        kind: "pivot",
        output: z.object({ paid: z.boolean() }),
        execute: async ({ input }) => {
          landed.add(input.id);
          throw new Error("socket hang up");
        },
        probe: async ({ input }) =>
          landed.has(input.id) ? committed({ paid: true }) : notCommitted(),
      })
      .step("place", {
        store,
        kind: "retriable",
        output: z.object({ row: z.string() }),
        execute: async ({ input, handle }) => {
          await handle.run("INSERT INTO orders (id) VALUES (?)", [input.id]);
          return { row: input.id };
        },
        probe: async () => notCommitted(),
      })
      .step("notify", {
        store: mailer,
        kind: "retriable",
        output: z.null(),
        execute: async () => null,
        probe: async () => notCommitted(),
      })
      .build();
    const groups: [number | undefined, boolean][] = [];
    const { log: recorded, calls } = recording(inner, {
      write: (id, _token, change) =>
        failFence && change.fence
          ? Promise.reject(new SagaLogError("io", id, "connection reset"))
          : undefined,
    });
    const log = new Proxy(recorded, {
      get(target, property) {
        if (property !== "coCommit") return Reflect.get(target, property, target);
        const coCommit = inner.coCommit;
        return {
          storeId: coCommit.storeId,
          create: coCommit.create.bind(coCommit),
          write: (tx: unknown, sagaId: string, token: number, change: SagaChange) => {
            groups.push([change.expectSeq, "messages" in change]);
            return coCommit.write(tx as never, sagaId, token, change);
          },
        };
      },
    });
    const result = await clock.run(
      createRunner({ log, clock, leaseTtlMs: TTL }).run(saga, { id: "o-1" }, { sagaId: "s-1" }),
    );
    return { result, groups, calls, inner };
  }

  it("is the saga's last entry, and the next write expects the entries the group added", async () => {
    const { result, groups, calls, inner } = await fencedWorld(false);
    expect(result._unsafeUnwrap().steps.map((s) => s.strategy)).toEqual([
      "saga",
      "co_committed",
      "saga",
    ]);
    const entries = (await inner.load("s-1"))?.entries ?? [];
    expect(entries.map((e) => `${e.seq}:${e.step}:${e.type}`)).toEqual([
      "1:pay:intent",
      "2:pay:unknown",
      "3:pay:committed",
      "4:place:committed",
      "5:notify:intent",
      "6:notify:committed",
    ]);
    // No step of the group publishes: its write carries no outbox field.
    expect(groups).toEqual([[2, false]]);
    expect(calls.writes.map((w) => [w.change.fence === true, w.change.expectSeq])).toEqual([
      [true, 1],
      [false, 4],
      [false, 5],
    ]);
  });

  it("is not known after a write whose outcome is unknown, and later writes expect none", async () => {
    const { result, groups, calls, inner } = await fencedWorld(true);
    expect(result.isOk(), result.isErr() ? result.error.message : "").toBe(true);
    expect(groups).toEqual([[undefined, false]]);
    expect(calls.writes.map((w) => [w.change.fence === true, w.change.expectSeq])).toEqual([
      [true, 1],
      [false, undefined],
      [false, undefined],
    ]);
    expect((await inner.load("s-1"))?.record.status).toBe(SagaStatus.Completed);
  });
});
