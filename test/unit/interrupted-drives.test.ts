import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  AttentionReason,
  cannotTell,
  committed,
  compensated,
  createRecoverer,
  createRunner,
  defineSaga,
  ErrorCode,
  MemorySagaLog,
  notCommitted,
  type SagaChange,
  type SagaEvent,
  type SagaLog,
  SagaLogError,
  StoreError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

/**
 * Drives that were cut short (the log failing under a running saga, as a crash would leave it) and
 * then resumed, by a resubmission of the same saga id or by the recoverer; and how a drive ends when
 * something outside the saga stops it (a cancellation, a lease taken over, the log failing).
 */

const LEASE_TTL = 1_000;

/** A memory log whose writes fail, once, when `failWhen` picks one. */
function crashingLog(failWhen: (change: SagaChange) => boolean) {
  const real = new MemorySagaLog();
  let armed = true;
  const log = new Proxy(real, {
    get(target, property) {
      if (property === "write") {
        return async (sagaId: string, token: number, change: SagaChange) => {
          if (armed && failWhen(change)) {
            armed = false;
            throw new SagaLogError("io", sagaId, "disk full");
          }
          return target.write(sagaId, token, change);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as SagaLog;
  return { log, real };
}

const hasEntry = (change: SagaChange, step: string, type: string) =>
  (change.entries ?? []).some((e) => e.step === step && e.type === type);

type ProbeAnswer = "committed" | "invalid" | "cannot_tell";

/** hold (compensatable) → charge (pivot) → ship (retriable), on one memory store. */
function shop(
  options: {
    probe?: ProbeAnswer;
    recovery?: "compensate" | "roll_forward";
    afterHold?: () => void;
  } = {},
) {
  const store = createMemoryStore({ id: "shop", tier: "plain" });
  const calls = { hold: 0, holdProbe: 0, release: 0, charge: 0, ship: 0 };
  const saga = defineSaga("shop", {
    input: z.object({}),
    ...(options.recovery === undefined ? {} : { recovery: options.recovery }),
  })
    .step("hold", {
      store,
      kind: "compensatable",
      output: z.object({ held: z.number() }),
      execute: async ({ handle }) => {
        calls.hold++;
        await handle.put("hold", 5);
        options.afterHold?.();
        return { held: 5 };
      },
      probe: async ({ handle }) => {
        calls.holdProbe++;
        if (options.probe === "invalid") return committed({ held: "five" } as never);
        if (options.probe === "cannot_tell") return cannotTell("the ledger is offline");
        return (await handle.get("hold")) === undefined ? notCommitted() : committed({ held: 5 });
      },
      compensate: async ({ handle }) => {
        calls.release++;
        await handle.delete("hold");
        return compensated();
      },
    })
    .step("charge", {
      store,
      kind: "pivot",
      output: z.object({ charged: z.number() }),
      execute: async ({ outputs }) => {
        calls.charge++;
        throw new StoreError("not_committed", `card declined for ${outputs.hold.held}`);
      },
      probe: async () => notCommitted(),
    })
    .step("ship", {
      store,
      kind: "retriable",
      idempotent: true,
      output: z.object({ shipped: z.boolean() }),
      execute: async () => {
        calls.ship++;
        return { shipped: true };
      },
    })
    .build();
  return { store, saga, calls };
}

describe("a resubmitted saga whose step's outcome the log never received", () => {
  async function crashAfterHold(probe: ProbeAnswer) {
    const clock = new VirtualClock();
    const { log } = crashingLog((change) => hasEntry(change, "hold", "committed"));
    const { saga, calls } = shop({ probe });
    const first = await clock.run(createRunner({ clock, log }).run(saga, {}, { sagaId: "s-1" }));
    expect(first._unsafeUnwrapErr().code).toBe(ErrorCode.LogFailed);
    expect(calls.hold).toBe(1);
    clock.advance(60_000);
    const again = await clock.run(createRunner({ clock, log }).run(saga, {}, { sagaId: "s-1" }));
    return { again, calls, log };
  }

  it("is settled by its probe, not executed again, and the saga goes on", async () => {
    const { again, calls } = await crashAfterHold("committed");
    const error = again._unsafeUnwrapErr();
    expect(calls).toMatchObject({ hold: 1, holdProbe: 1, charge: 1, release: 1 });
    expect(error.code).toBe(ErrorCode.StepFailed);
    if (error.code !== ErrorCode.StepFailed) return;
    expect(error.step).toBe("charge");
    expect(error.report.steps.map((s) => s.status)).toEqual([
      "compensated",
      "not_committed",
      "skipped",
    ]);
    // A report names how a step committed only while it stands committed, and an error only where
    // there was one; outputs are those of committed steps.
    const [hold, , ship] = error.report.steps;
    expect(hold).not.toHaveProperty("committedVia");
    expect(hold).not.toHaveProperty("error");
    expect(ship).not.toHaveProperty("committedVia");
    expect(ship).not.toHaveProperty("error");
    expect(error.report).not.toHaveProperty("attention");
    expect(error.report.outputs).toEqual({});
  });

  it("whose probe returns an output its schema refuses needs attention and undoes nothing", async () => {
    const { again, calls, log } = await crashAfterHold("invalid");
    const error = again._unsafeUnwrapErr();
    expect(calls).toMatchObject({ hold: 1, holdProbe: 1, charge: 0, release: 0 });
    expect(error.code).toBe(ErrorCode.NeedsAttention);
    if (error.code !== ErrorCode.NeedsAttention) return;
    expect(error.step).toBe("hold");
    expect(error.reason).toBe(AttentionReason.InvalidOutput);
    expect((await log.load("s-1"))?.record.status).toBe("needs_attention");
  });

  it("whose probe cannot tell is parked in doubt, executing and undoing nothing", async () => {
    const { again, calls, log } = await crashAfterHold("cannot_tell");
    const error = again._unsafeUnwrapErr();
    expect(calls).toMatchObject({ hold: 1, holdProbe: 1, charge: 0, release: 0 });
    expect(error.code).toBe(ErrorCode.InDoubt);
    expect((await log.load("s-1"))?.record.status).toBe("in_doubt");
  });
});

describe("a saga cut short while compensating", () => {
  // The pivot is declined, so hold is compensated; the log fails on the write that records it.
  async function crashWhileCompensating() {
    const clock = new VirtualClock();
    const { log, real } = crashingLog((change) => hasEntry(change, "hold", "compensated"));
    const { saga, calls, store } = shop({ recovery: "roll_forward" });
    const runner = createRunner({ clock, log, leaseTtlMs: LEASE_TTL });
    const first = await clock.run(runner.run(saga, {}, { sagaId: "s-2" }));
    expect(first._unsafeUnwrapErr().code).toBe(ErrorCode.LogFailed);
    expect((await real.load("s-2"))?.record.status).toBe("compensating");
    expect(calls).toMatchObject({ hold: 1, charge: 1, release: 1 });
    clock.advance(60_000);
    return { clock, log, real, saga, calls, store, runner };
  }

  it("keeps compensating when it is resubmitted, never retrying its pivot", async () => {
    const { clock, log, real, saga, calls } = await crashWhileCompensating();
    const again = await clock.run(createRunner({ clock, log }).run(saga, {}, { sagaId: "s-2" }));
    const error = again._unsafeUnwrapErr();
    expect(calls).toMatchObject({ hold: 1, charge: 1, release: 2, ship: 0 });
    expect(error.code).toBe(ErrorCode.StepFailed);
    expect(error.message).toBe(
      'Saga "s-2" did not reach its point of no return (step "charge") and has been compensated.',
    );
    expect((await real.load("s-2"))?.record.status).toBe("compensated");
  });

  it("keeps compensating when the recoverer takes it over, never retrying its pivot", async () => {
    const { clock, log, real, saga, calls } = await crashWhileCompensating();
    const recoverer = createRecoverer({ runner: createRunner({ clock, log }), sagas: [saga] });
    const pass = (await clock.run(recoverer.recover()))._unsafeUnwrap();
    expect(pass.claimed).toBe(1);
    expect(calls).toMatchObject({ hold: 1, charge: 1, release: 2, ship: 0 });
    expect((await real.load("s-2"))?.record.status).toBe("compensated");
  });
});

describe("recovering a saga whose first step is its pivot", () => {
  function payFirst(probe: "committed" | "invalid") {
    const store = createMemoryStore({ id: "pay", tier: "plain" });
    const calls = { pay: 0, ship: 0 };
    const saga = defineSaga("pay-first", { input: z.object({}) })
      .step("pay", {
        store,
        kind: "pivot",
        output: z.object({ paid: z.number() }),
        execute: async ({ handle }) => {
          calls.pay++;
          await handle.put("paid", 10);
          return { paid: 10 };
        },
        probe: async ({ handle }) => {
          if (probe === "invalid") return committed({ paid: "ten" } as never);
          return (await handle.get("paid")) === undefined
            ? notCommitted()
            : committed({ paid: 10 });
        },
      })
      .step("ship", {
        store,
        kind: "retriable",
        idempotent: true,
        output: z.object({ shipped: z.boolean() }),
        execute: async ({ outputs }) => {
          calls.ship++;
          return { shipped: outputs.pay.paid === 10 };
        },
      })
      .build();
    return { saga, calls };
  }

  async function crashAfterPay(probe: "committed" | "invalid") {
    const clock = new VirtualClock();
    const { log, real } = crashingLog((change) => hasEntry(change, "pay", "committed"));
    const { saga, calls } = payFirst(probe);
    const runner = createRunner({ clock, log, leaseTtlMs: LEASE_TTL });
    const first = await clock.run(runner.run(saga, {}, { sagaId: "s-3" }));
    expect(first._unsafeUnwrapErr().code).toBe(ErrorCode.LogFailed);
    clock.advance(60_000);
    const recoverer = createRecoverer({ runner: createRunner({ clock, log }), sagas: [saga] });
    const pass = (await clock.run(recoverer.recover()))._unsafeUnwrap();
    expect(pass.claimed).toBe(1);
    return { real, calls };
  }

  it("settles the pivot by its probe and rolls the saga forward", async () => {
    const { real, calls } = await crashAfterPay("committed");
    const snapshot = await real.load("s-3");
    expect(snapshot?.record.status).toBe("completed");
    // The pivot ran once; ship, idempotent, ran again since its first commit was never recorded.
    expect(calls).toEqual({ pay: 1, ship: 2 });
  });

  it("needs attention when the pivot's probe returns an output its schema refuses", async () => {
    const { real, calls } = await crashAfterPay("invalid");
    const record = (await real.load("s-3"))?.record;
    expect(record?.status).toBe("needs_attention");
    expect(record?.attention).toMatchObject({
      reason: AttentionReason.InvalidOutput,
      step: "pay",
    });
    expect(calls).toEqual({ pay: 1, ship: 1 });
  });
});

describe("a drive stopped from outside the saga", () => {
  it("a cancelled run before its pivot is compensated and says so", async () => {
    const clock = new VirtualClock();
    const controller = new AbortController();
    // hold commits; the caller goes away before the pivot starts.
    const { saga, calls } = shop({ afterHold: () => controller.abort("client went away") });
    const runner = createRunner({ clock });
    const error = (
      await clock.run(runner.run(saga, {}, { sagaId: "s-4", signal: controller.signal }))
    )._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.Cancelled);
    if (error.code !== ErrorCode.Cancelled) return;
    expect(error.message).toBe(
      'Saga "s-4" was cancelled; every step it had committed was compensated.',
    );
    expect(error.reason).toBe("client went away");
    expect(error.sagaId).toBe("s-4");
    expect(calls).toMatchObject({ hold: 1, charge: 0, release: 1 });
    expect(error.report.status).toBe("compensated");
    // A resubmission names the step the saga was unwound from.
    const again = (await clock.run(runner.run(saga, {}, { sagaId: "s-4" })))._unsafeUnwrapErr();
    expect(again.code).toBe(ErrorCode.StepFailed);
    if (again.code !== ErrorCode.StepFailed) return;
    expect(again.step).toBe("hold");
    expect(again.message).toBe(
      'Saga "s-4" did not reach its point of no return (step "hold") and has been compensated.',
    );
  });

  it("a run cancelled after its pivot undoes nothing and is left running for recovery", async () => {
    const clock = new VirtualClock();
    const store = createMemoryStore({ id: "pay", tier: "plain" });
    const controller = new AbortController();
    const calls = { pay: 0, ship: 0 };
    const saga = defineSaga("pay-then-ship", { input: z.object({}) })
      .step("pay", {
        store,
        kind: "pivot",
        output: z.object({}),
        execute: async () => {
          calls.pay++;
          return {};
        },
        probe: async () => notCommitted(),
      })
      .step("ship", {
        store,
        kind: "retriable",
        idempotent: true,
        output: z.object({}),
        execute: async () => {
          calls.ship++;
          return {};
        },
      })
      .build();
    // The caller goes away as soon as the pivot has committed.
    const runner = createRunner({
      clock,
      onEvent: (e) => {
        if (e.type === "step.committed" && e.step === "pay") controller.abort("client went away");
      },
    });
    const error = (
      await clock.run(runner.run(saga, {}, { sagaId: "s-7", signal: controller.signal }))
    )._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.Incomplete);
    expect(calls).toEqual({ pay: 1, ship: 0 });
    const record = (await runner.log.load("s-7"))?.record;
    expect(record?.status).toBe("running");
    expect(record?.leaseOwner).toBeNull();
  });

  it("a lease taken over stops the run with lease_lost, told to the listener", async () => {
    const clock = new VirtualClock();
    const log = new MemorySagaLog();
    const store = createMemoryStore({ id: "slow", tier: "plain" });
    const events: SagaEvent[] = [];
    const saga = defineSaga("slow", { input: z.object({}) })
      .step("work", {
        store,
        kind: "retriable",
        idempotent: true,
        output: z.object({}),
        execute: async () => {
          clock.advance(5_000);
          await log.acquireLease("s-5", "recoverer", 60_000, clock.now());
          return {};
        },
      })
      .build();
    const runner = createRunner({
      clock,
      log,
      leaseTtlMs: LEASE_TTL,
      onEvent: (e) => events.push(e),
    });
    const error = (await clock.run(runner.run(saga, {}, { sagaId: "s-5" })))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.LeaseLost);
    expect(error.message).toBe(
      'Saga "s-5" was taken over by another runner after this runner\'s lease expired; this runner stopped writing.',
    );
    expect(events.filter((e) => e.type === "saga.lease_lost")).toEqual([
      expect.objectContaining({ type: "saga.lease_lost", sagaId: "s-5", saga: "slow" }),
    ]);
  });

  it("a log that fails after the saga was recorded promises recovery", async () => {
    const clock = new VirtualClock();
    const { log } = crashingLog((change) => hasEntry(change, "hold", "committed"));
    const { saga } = shop();
    const error = (
      await clock.run(createRunner({ clock, log }).run(saga, {}, { sagaId: "s-6" }))
    )._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.LogFailed);
    expect(error.message).toMatch(
      /^The saga log failed while running saga "s-6": .*disk full.*\. Recovery will resume it once its lease expires\.$/,
    );
  });
});
