import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  AttentionReason,
  type CompensationPolicy,
  cannotTell,
  committed,
  compensated,
  createRecoverer,
  createRunner,
  defineSaga,
  ErrorCode,
  guardFailed,
  MemorySagaLog,
  notCommitted,
  SagaStatus,
  StoreError,
} from "../../src/index.js";
import { CrashSwitch } from "../../src/testing/crash-switch.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

/** The status in the report a saga error carries. */
const statusOf = (error: object): unknown =>
  (error as { report?: { status?: unknown } }).report?.status;

type Undo = (call: number) => Promise<unknown>;

interface Options {
  /** What reserve's compensation does on its `call`-th call (1-based). */
  readonly undo?: Undo;
  /** reserve fails with a transient error this many times before it commits. */
  readonly reserveFlaky?: number;
  /** hold's execute: by default it writes its key and commits. */
  readonly holdExecute?: () => Promise<unknown>;
  /** What hold's probe says when its key is absent. @default notCommitted() */
  readonly holdAbsent?: "not_committed" | "cannot_tell" | "invalid_commit";
  /** charge (the pivot) is refused. @default true */
  readonly chargeRefused?: boolean;
  readonly compensation?: CompensationPolicy;
}

/**
 * reserve (compensatable) → hold (compensatable) → charge (pivot), each writing its own key of one
 * memory store. Records what each compensation saw: the log's status and last entry while it runs,
 * its context's attempt, and the virtual time.
 */
function world(options: Options = {}) {
  const clock = new VirtualClock();
  const log = new MemorySagaLog();
  const store = createMemoryStore({ id: "shop", tier: "plain" });
  const seen = {
    reserveCalls: [] as number[],
    reserveAttempts: [] as number[],
    logWhileUndoing: [] as string[],
    holdUndos: 0,
    reserveExecutes: 0,
  };
  const undo: Undo =
    options.undo ??
    (async () => {
      await store.handle.delete("reserve");
      return compensated();
    });
  const saga = defineSaga("shop", { input: z.object({}) })
    .step("reserve", {
      store,
      kind: "compensatable",
      output: z.object({}),
      retry: { attempts: 3, initialDelayMs: 1, jitter: 0 },
      ...(options.compensation === undefined ? {} : { compensation: options.compensation }),
      execute: async ({ handle }) => {
        seen.reserveExecutes++;
        if (seen.reserveExecutes <= (options.reserveFlaky ?? 0)) {
          throw new StoreError("transient", "the shop is busy");
        }
        await handle.put("reserve", 1);
        return {};
      },
      probe: async ({ handle }) =>
        (await handle.get("reserve")) === undefined ? notCommitted() : committed({}),
      compensate: async ({ attempt }) => {
        seen.reserveCalls.push(clock.now());
        seen.reserveAttempts.push(attempt);
        const [record] = await log.list();
        const snapshot = record && (await log.load(record.sagaId));
        const last = snapshot?.entries.at(-1);
        seen.logWhileUndoing.push(`${record?.status} ${last?.type} ${last?.attempt}`);
        return undo(seen.reserveCalls.length) as never;
      },
    })
    .step("hold", {
      store,
      kind: "compensatable",
      output: z.object({}),
      retry: { attempts: 2, initialDelayMs: 1, jitter: 0 },
      execute: async ({ handle }) => {
        if (options.holdExecute !== undefined) return options.holdExecute() as never;
        await handle.put("hold", 1);
        return {};
      },
      probe: async ({ handle }) => {
        if ((await handle.get("hold")) !== undefined) return committed({});
        if (options.holdAbsent === "invalid_commit") return committed("held" as never);
        return options.holdAbsent === "cannot_tell" ? cannotTell("no ledger") : notCommitted();
      },
      compensate: async ({ handle }) => {
        seen.holdUndos++;
        await handle.delete("hold");
        return compensated();
      },
    })
    .step("charge", {
      store,
      kind: "pivot",
      output: z.object({}),
      execute: async ({ handle }) => {
        if (options.chargeRefused ?? true) {
          throw new StoreError("not_committed", "the card was declined");
        }
        await handle.put("charge", 1);
        return {};
      },
      probe: async ({ handle }) =>
        (await handle.get("charge")) === undefined ? notCommitted() : committed({}),
    })
    .build();
  return { clock, log, store, saga, seen };
}

/** The compensation entries of `step`, as `type attempt [kind: message]`. */
async function undoEntries(log: MemorySagaLog, step: string): Promise<string[]> {
  const [record] = await log.list();
  const snapshot = record && (await log.load(record.sagaId));
  return (snapshot?.entries ?? [])
    .filter((e) => e.step === step && e.type !== "intent" && !e.type.startsWith("commit"))
    .filter((e) => e.type !== "not_committed")
    .map((e) =>
      [e.type, e.attempt, e.error === undefined ? "" : `[${e.error.kind}: ${e.error.message}]`]
        .join(" ")
        .trim(),
    );
}

const transient = async () => {
  throw new StoreError("transient", "the shop is down");
};

describe("a compensation that fails and is retried", () => {
  it("writes its intent durably before each call, its failure after each, and backs off between them", async () => {
    const { clock, log, saga, seen, store } = world({
      reserveFlaky: 1,
      compensation: { retry: { attempts: 3, initialDelayMs: 10, factor: 2, jitter: 0 } },
      undo: async (call) => {
        if (call < 3) return transient();
        await store.handle.delete("reserve");
        return compensated();
      },
    });
    const events: string[] = [];
    const runner = createRunner({
      clock,
      log,
      onEvent: (e) => {
        if (e.type === "compensation.started") events.push(`started ${e.step} ${e.attempt}`);
        if (e.type === "compensation.finished") {
          events.push(`finished ${e.step} ${e.attempt} ${e.result}`);
        }
      },
    });
    const error = (await clock.run(runner.run(saga, {})))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    expect(statusOf(error)).toBe(SagaStatus.Compensated);
    expect(store.snapshot()).toEqual({});
    // Each call runs with the saga durably compensating and its own intent the last entry.
    expect(seen.logWhileUndoing).toEqual([
      "compensating compensation_intent 1",
      "compensating compensation_intent 2",
      "compensating compensation_intent 3",
    ]);
    // The compensation is handed the attempt its step committed with.
    expect(seen.reserveAttempts).toEqual([2, 2, 2]);
    expect(seen.reserveCalls.slice(1).map((t, i) => t - (seen.reserveCalls[i] as number))).toEqual([
      10, 20,
    ]);
    expect(await undoEntries(log, "reserve")).toEqual([
      "compensation_intent 1",
      "compensation_failed 1 [transient: the shop is down]",
      "compensation_intent 2",
      "compensation_failed 2 [transient: the shop is down]",
      "compensation_intent 3",
      "compensated 3",
    ]);
    expect(events).toEqual([
      "finished charge 0 skipped",
      "started hold 1",
      "finished hold 1 compensated",
      "started reserve 1",
      "finished reserve 1 failed",
      "started reserve 2",
      "finished reserve 2 failed",
      "started reserve 3",
      "finished reserve 3 compensated",
    ]);
  });

  it("out of attempts, stops at once: the saga stays compensating, its lease freed, the failed step named", async () => {
    const { clock, log, saga, seen } = world({
      compensation: { retry: { attempts: 2, initialDelayMs: 40, jitter: 0 } },
      undo: transient,
    });
    const runner = createRunner({ clock, log });
    const error = (await clock.run(runner.run(saga, {}, { sagaId: "s-1" })))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    if (error.code !== ErrorCode.StepFailed) return;
    expect(error.step).toBe("charge");
    expect(error.kind).toBe("not_committed");
    expect(error.cause).toEqual({ kind: "not_committed", message: "the card was declined" });
    expect(error.message).toBe(
      'Step "charge" of saga "shop" failed; the compensation of step "reserve" has not succeeded yet and the recoverer will retry it.',
    );
    expect(statusOf(error)).toBe(SagaStatus.Compensating);
    expect(seen.reserveCalls).toHaveLength(2);
    const record = (await log.load("s-1"))?.record;
    expect(record?.status).toBe(SagaStatus.Compensating);
    expect(record?.leaseOwner).toBeNull();
    // No backoff is waited after the last attempt: the saga is released when it fails.
    expect(record?.updatedAt).toBe(seen.reserveCalls[1]);
    expect(await undoEntries(log, "reserve")).toEqual([
      "compensation_intent 1",
      "compensation_failed 1 [transient: the shop is down]",
      "compensation_intent 2",
      "compensation_failed 2 [transient: the shop is down]",
    ]);
  });

  it("a call past its deadline fails as a timeout; a call returning neither result fails naming what it returned", async () => {
    const { clock, log, saga } = world({
      compensation: { retry: { attempts: 2, initialDelayMs: 0, jitter: 0 }, timeoutMs: 50 },
      undo: async (call) =>
        call === 1 ? new Promise<never>(() => {}) : { status: "done", undone: 1 },
    });
    const runner = createRunner({ clock, log });
    const error = (await clock.run(runner.run(saga, {})))._unsafeUnwrapErr();
    expect(statusOf(error)).toBe(SagaStatus.Compensating);
    expect(await undoEntries(log, "reserve")).toEqual([
      "compensation_intent 1",
      'compensation_failed 1 [timeout: The compensation of step "reserve" did not finish within its deadline.]',
      "compensation_intent 2",
      'compensation_failed 2 [unknown: The compensation of step "reserve" returned {"status":"done","undone":1}, not compensated() or guardFailed().]',
    ]);
  });

  it("a thrown error is classified like any store error", async () => {
    const { clock, log, saga } = world({
      compensation: { retry: { attempts: 2, initialDelayMs: 0, jitter: 0 } },
      undo: async (call) => {
        throw call === 1
          ? new StoreError("conflict", "someone else moved it")
          : new Error("no route to host");
      },
    });
    const runner = createRunner({ clock, log });
    await clock.run(runner.run(saga, {}));
    expect(await undoEntries(log, "reserve")).toEqual([
      "compensation_intent 1",
      "compensation_failed 1 [conflict: someone else moved it]",
      "compensation_intent 2",
      "compensation_failed 2 [unknown: no route to host]",
    ]);
  });
});

describe("a compensation whose compare-and-set guard fails", () => {
  it("undoes nothing, is not retried, and hands the saga to a person with its reason", async () => {
    const { clock, log, saga, seen, store } = world({
      compensation: { retry: { attempts: 3, initialDelayMs: 0, jitter: 0 } },
      undo: async () => guardFailed("the reservation was re-sold"),
    });
    const finished: string[] = [];
    const runner = createRunner({
      clock,
      log,
      onEvent: (e) => {
        if (e.type === "compensation.finished") finished.push(`${e.step} ${e.attempt} ${e.result}`);
      },
    });
    const error = (await clock.run(runner.run(saga, {}, { sagaId: "g-1" })))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.NeedsAttention);
    if (error.code !== ErrorCode.NeedsAttention) return;
    expect(error.reason).toBe(AttentionReason.GuardFailed);
    expect(error.step).toBe("reserve");
    expect(error.message).toBe(
      'Saga "g-1" needs attention at step "reserve": The compensation of step "reserve" found state it did not write and undid nothing: the reservation was re-sold.',
    );
    expect(seen.reserveCalls).toHaveLength(1);
    expect(store.snapshot().reserve).toBeDefined();
    expect(finished).toEqual(["charge 0 skipped", "hold 1 compensated", "reserve 1 guard_failed"]);
    expect(await undoEntries(log, "reserve")).toEqual([
      "compensation_intent 1",
      "guard_failed 1 [conflict: the reservation was re-sold]",
    ]);
    const record = (await log.load("g-1"))?.record;
    expect(record?.status).toBe(SagaStatus.NeedsAttention);
    expect(record?.attention).toEqual({
      reason: AttentionReason.GuardFailed,
      step: "reserve",
      message:
        'The compensation of step "reserve" found state it did not write and undid nothing: the reservation was re-sold.',
    });
  });

  it("without a reason, says the guard failed", async () => {
    const { clock, log, saga } = world({ undo: async () => ({ status: "guard_failed" }) });
    const runner = createRunner({ clock, log });
    const error = (await clock.run(runner.run(saga, {}, { sagaId: "g-2" })))._unsafeUnwrapErr();
    expect(error.message).toBe(
      'Saga "g-2" needs attention at step "reserve": The compensation of step "reserve" found state it did not write and undid nothing: the guard failed.',
    );
    expect(await undoEntries(log, "reserve")).toEqual([
      "compensation_intent 1",
      "guard_failed 1 [conflict: the guard failed]",
    ]);
  });
});

describe("a step that provably never applied", () => {
  it("gets a recorded no-op for its last attempt; steps never run get nothing", async () => {
    const { clock, log, saga, seen } = world({ holdExecute: transient });
    const skipped: string[] = [];
    const runner = createRunner({
      clock,
      log,
      onEvent: (e) => {
        if (e.type === "compensation.finished") skipped.push(`${e.step} ${e.attempt} ${e.result}`);
      },
    });
    const error = (await clock.run(runner.run(saga, {})))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    expect(statusOf(error)).toBe(SagaStatus.Compensated);
    expect(seen.holdUndos).toBe(0);
    expect(skipped).toEqual(["hold 0 skipped", "reserve 1 compensated"]);
    expect(await undoEntries(log, "hold")).toEqual(["compensation_skipped 2"]);
    expect(await undoEntries(log, "charge")).toEqual([]);
  });
});

describe("a saga cancelled before its pivot whose compensation runs out of attempts", () => {
  it("names the step whose compensation is stuck, with an unknown kind: no step failed", async () => {
    const { clock, log, saga } = world({
      compensation: { retry: { attempts: 1 } },
      undo: transient,
    });
    const controller = new AbortController();
    const runner = createRunner({
      clock,
      log,
      onEvent: (e) => {
        if (e.type === "step.committed" && e.step === "hold") controller.abort(new Error("bye"));
      },
    });
    const error = (
      await clock.run(runner.run(saga, {}, { signal: controller.signal }))
    )._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    if (error.code !== ErrorCode.StepFailed) return;
    expect(error.step).toBe("reserve");
    expect(error.kind).toBe("unknown");
    expect(error.cause).toBeUndefined();
    expect(error.message).toBe(
      'Step "reserve" of saga "shop" failed; the compensation of step "reserve" has not succeeded yet and the recoverer will retry it.',
    );
  });
});

/** Runs the saga until hold's execute, where the process dies, and recovers it in a fresh one. */
async function crashInHold(options: Options) {
  const crash = new CrashSwitch();
  const w = world({
    ...options,
    holdExecute: () => crash.trip("hold execute"),
  });
  const runner = createRunner({ clock: w.clock, log: crash.wrapLog(w.log), leaseTtlMs: 1_000 });
  await w.clock.run(runner.run(w.saga, {}, { sagaId: "c-1" }));
  expect(crash.dead).toBe(true);
  const recoverer = createRecoverer({
    runner: createRunner({ clock: w.clock, log: w.log, leaseTtlMs: 1_000 }),
    sagas: [w.saga],
  });
  w.clock.advance(5_000);
  const pass = (await w.clock.run(recoverer.recover()))._unsafeUnwrap();
  return { ...w, recovered: pass.sagas[0] };
}

describe("recovering a saga that died inside a step before its pivot", () => {
  it("leaves it compensating, undoing nothing, while the step's probe cannot tell", async () => {
    const { log, seen, recovered } = await crashInHold({ holdAbsent: "cannot_tell" });
    const error = recovered?.error;
    expect(error?.code).toBe(ErrorCode.InDoubt);
    if (error?.code !== ErrorCode.InDoubt) return;
    expect(error.step).toBe("hold");
    expect(error.message).toBe(
      'Saga "c-1" is compensating but the outcome of step "hold" cannot be determined; the recoverer will probe it again.',
    );
    expect(seen.reserveCalls).toEqual([]);
    const record = (await log.load("c-1"))?.record;
    expect(record?.status).toBe(SagaStatus.Compensating);
    expect(record?.leaseOwner).toBeNull();
  });

  it("leaves it compensating, undoing nothing, while the step's probe finds a commit whose output fails its schema", async () => {
    const { log, seen, recovered } = await crashInHold({ holdAbsent: "invalid_commit" });
    const error = recovered?.error;
    expect(error?.code).toBe(ErrorCode.InDoubt);
    if (error?.code !== ErrorCode.InDoubt) return;
    expect(error.step).toBe("hold");
    expect(seen.reserveCalls).toEqual([]);
    expect((await log.load("c-1"))?.record.status).toBe(SagaStatus.Compensating);
  });

  it("whose probe proves it never landed: a stuck compensation names that step, of unknown kind", async () => {
    const { recovered } = await crashInHold({
      compensation: { retry: { attempts: 1 } },
      undo: transient,
    });
    const error = recovered?.error;
    expect(error?.code).toBe(ErrorCode.StepFailed);
    if (error?.code !== ErrorCode.StepFailed) return;
    expect(error.step).toBe("hold");
    expect(error.kind).toBe("unknown");
    expect(error.message).toBe(
      'Step "hold" of saga "shop" failed; the compensation of step "reserve" has not succeeded yet and the recoverer will retry it.',
    );
  });
});

describe("recovering a saga whose compensation got stuck", () => {
  it("resumes where it stopped: steps already undone are left alone, the saga's status is not written again", async () => {
    const { clock, log, saga, seen, store } = world({
      compensation: { retry: { attempts: 1 } },
      undo: async (call) => {
        if (call === 1) return transient();
        await store.handle.delete("reserve");
        return compensated();
      },
    });
    const first = await clock.run(createRunner({ clock, log }).run(saga, {}, { sagaId: "r-1" }));
    expect(statusOf(first._unsafeUnwrapErr())).toBe(SagaStatus.Compensating);
    expect(seen.holdUndos).toBe(1);

    const writes: string[] = [];
    const counted = new Proxy(log, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (property === "write") {
            const change = args[2] as { status?: string; entries?: { type: string }[] };
            writes.push(change.status ?? "(entries only)");
          }
          return value.apply(target, args);
        };
      },
    });
    const recoverer = createRecoverer({
      runner: createRunner({ clock, log: counted }),
      sagas: [saga],
    });
    clock.advance(60_000);
    const pass = (await clock.run(recoverer.recover()))._unsafeUnwrap();
    expect(pass.sagas[0]?.outcome).toBe("compensated");
    const error = pass.sagas[0]?.error;
    expect(error?.code).toBe(ErrorCode.StepFailed);
    if (error?.code !== ErrorCode.StepFailed) return;
    expect(error.step).toBe("charge");
    expect(error.kind).toBe("not_committed");
    expect(error.cause).toEqual({ kind: "not_committed", message: "the card was declined" });
    expect(error.message).toBe(
      'Saga "r-1" did not reach its point of no return (step "charge") and has been compensated.',
    );
    expect(seen.holdUndos).toBe(1);
    expect(await undoEntries(log, "hold")).toEqual(["compensation_intent 1", "compensated 1"]);
    // One write for reserve's intent, one to end the saga: "compensating" is already durable.
    expect(writes).toEqual(["(entries only)", "compensated"]);
  });
});
