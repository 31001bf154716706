import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  AttentionReason,
  cannotTell,
  committed,
  compensated,
  createRecoverer,
  createRunner,
  defineSaga,
  defineStore,
  ErrorCode,
  MemorySagaLog,
  notCommitted,
  SagaStatus,
  StoreError,
} from "../../src/index.js";
import { CrashSwitch } from "../../src/testing/crash-switch.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

interface Options {
  /** How long the pivot's execute takes before it fails, in virtual ms. */
  readonly pivotMs?: number;
  /** The pivot's execute fails with this error. @default an unclassified error */
  readonly pivotError?: Error;
  /** The pivot's probe. @default cannot tell */
  readonly pivotProbe?: "cannot_tell" | "not_committed";
  /** notify (retriable, after the pivot) fails with this error. */
  readonly notifyError?: Error;
  /** How long notify's execute takes before it fails, in virtual ms. */
  readonly notifyMs?: number;
  /** The store remembers keys this long. */
  readonly keyWindowMs?: number;
  readonly recovery?: "roll_forward";
  /** Called in reserve's execute, once it has written. */
  readonly onReserve?: () => void;
}

/** reserve (compensatable) → pay (pivot) → notify (retriable), on one store. */
function world(options: Options = {}) {
  const clock = new VirtualClock();
  const log = new MemorySagaLog();
  const state = { reserved: 0, undone: 0 };
  const store = defineStore({
    id: "api",
    handle: state,
    ...(options.keyWindowMs === undefined ? {} : { keyWindowMs: options.keyWindowMs }),
  });
  const wait = (ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms));
  const saga = defineSaga("order", {
    input: z.object({}),
    ...(options.recovery === undefined ? {} : { recovery: options.recovery }),
  })
    .step("reserve", {
      store,
      kind: "compensatable",
      output: z.object({}),
      execute: async () => {
        state.reserved++;
        options.onReserve?.();
        return {};
      },
      probe: async () => (state.reserved > 0 ? committed({}) : notCommitted()),
      compensate: async () => {
        state.undone++;
        return compensated();
      },
    })
    .step("pay", {
      store,
      kind: "pivot",
      output: z.object({}),
      retry: { attempts: 1 },
      execute: async () => {
        await wait(options.pivotMs ?? 0);
        if (options.pivotError !== undefined) throw options.pivotError;
        return {};
      },
      probe: async () =>
        options.pivotProbe === "not_committed" ? notCommitted() : cannotTell("no ledger"),
    })
    .step("notify", {
      store,
      kind: "retriable",
      output: z.object({}),
      retry: { attempts: 1 },
      execute: async () => {
        await wait(options.notifyMs ?? 0);
        if (options.notifyError !== undefined) throw options.notifyError;
        return {};
      },
    })
    .build();
  return { clock, log, state, saga };
}

describe("a saga parked in doubt", () => {
  it("says its step's outcome cannot be determined, with no reason and no attention", async () => {
    const { clock, log, saga } = world({ pivotError: new Error("socket hang up") });
    const runner = createRunner({ clock, log });
    const error = (await clock.run(runner.run(saga, {}, { sagaId: "d-1" })))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InDoubt);
    if (error.code !== ErrorCode.InDoubt) return;
    expect(error.step).toBe("pay");
    expect(error.message).toBe(
      'The outcome of step "pay" of saga "d-1" cannot be determined; the saga is parked and the recoverer will probe it again.',
    );
    expect(error.reason).toBeUndefined();
    const record = (await log.load("d-1"))?.record;
    expect(record?.status).toBe(SagaStatus.InDoubt);
    expect(error.report.attention).toBeUndefined();
    expect(record?.attention).toBeNull();
    expect(record?.leaseOwner).toBeNull();
  });

  it("once its key has outlived the store's key window, says so and records why for a person", async () => {
    const { clock, log, saga } = world({
      pivotError: new Error("socket hang up"),
      pivotMs: 80,
      keyWindowMs: 50,
    });
    const runner = createRunner({ clock, log });
    const sentAt = clock.now();
    const error = (await clock.run(runner.run(saga, {}, { sagaId: "d-2" })))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InDoubt);
    if (error.code !== ErrorCode.InDoubt) return;
    expect(error.reason).toBe(AttentionReason.IdempotencyWindowExpired);
    const why = `idempotency window expired: its key was first sent at ${new Date(sentAt).toISOString()} and store "api" remembers keys for 50 ms, so lockstep will not send it again, and its probe could not tell whether the write landed.`;
    expect(error.message).toBe(
      `The outcome of step "pay" of saga "d-2" cannot be determined: ${why} The saga is parked and the recoverer will probe it again.`,
    );
    const record = (await log.load("d-2"))?.record;
    expect(record?.status).toBe(SagaStatus.InDoubt);
    const attention = {
      reason: AttentionReason.IdempotencyWindowExpired,
      step: "pay",
      message: why,
    };
    expect(record?.attention).toEqual(attention);
    expect(error.report.attention).toEqual(attention);
  });
});

describe("a saga parked running for the recoverer", () => {
  it("past its pivot, says the recoverer will finish it, with the step's failure as cause and no attention even past a key window", async () => {
    const { clock, log, saga } = world({
      notifyError: new StoreError("transient", "the mailer is busy"),
      notifyMs: 80,
      keyWindowMs: 50,
    });
    const runner = createRunner({ clock, log });
    const error = (await clock.run(runner.run(saga, {}, { sagaId: "p-1" })))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.Incomplete);
    if (error.code !== ErrorCode.Incomplete) return;
    expect(error.step).toBe("notify");
    expect(error.message).toBe(
      'Saga "p-1" is past its point of no return but step "notify" has not committed yet; the recoverer will finish it.',
    );
    expect(error.cause).toEqual({ kind: "transient", message: "the mailer is busy" });
    const record = (await log.load("p-1"))?.record;
    expect(record?.status).toBe(SagaStatus.Running);
    expect(record?.attention).toBeNull();
  });

  it("before its pivot, when the saga rolls forward, says the recoverer will retry the step", async () => {
    const { clock, log, saga, state } = world({
      recovery: "roll_forward",
      pivotError: new StoreError("transient", "the bank is busy"),
      pivotProbe: "not_committed",
    });
    const runner = createRunner({ clock, log });
    const error = (await clock.run(runner.run(saga, {}, { sagaId: "p-2" })))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.Incomplete);
    if (error.code !== ErrorCode.Incomplete) return;
    expect(error.step).toBe("pay");
    expect(error.message).toBe(
      'Saga "p-2" has not finished: step "pay" has not committed yet and the saga rolls forward, so the recoverer will retry it.',
    );
    expect(error.cause).toEqual({ kind: "transient", message: "the bank is busy" });
    expect(state.undone).toBe(0);
    expect((await log.load("p-2"))?.record.status).toBe(SagaStatus.Running);
  });

  it("cancelled past its pivot before the next step ran: no cause", async () => {
    const { clock, log, saga } = world();
    const controller = new AbortController();
    const runner = createRunner({
      clock,
      log,
      onEvent: (e) => {
        if (e.type === "step.committed" && e.step === "pay") controller.abort(new Error("bye"));
      },
    });
    const result = await clock.run(runner.run(saga, {}, { signal: controller.signal }));
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.Incomplete);
    if (error.code !== ErrorCode.Incomplete) return;
    expect(error.step).toBe("notify");
    expect(Object.keys(error)).not.toContain("cause");
  });
});

describe("a saga recovered before its pivot", () => {
  it("is compensated and names the first step it had not finished", async () => {
    const crash = new CrashSwitch();
    const { clock, log, saga, state } = world({ onReserve: () => crash.kill("after reserve") });
    const runner = createRunner({ clock, log: crash.wrapLog(log), leaseTtlMs: 1_000 });
    await clock.run(runner.run(saga, {}, { sagaId: "i-1" }));
    expect(crash.dead).toBe(true);
    const recoverer = createRecoverer({
      runner: createRunner({ clock, log, leaseTtlMs: 1_000 }),
      sagas: [saga],
    });
    clock.advance(5_000);
    const pass = (await clock.run(recoverer.recover()))._unsafeUnwrap();
    const error = pass.sagas[0]?.error;
    expect(error?.code).toBe(ErrorCode.StepFailed);
    if (error?.code !== ErrorCode.StepFailed) return;
    expect(state).toEqual({ reserved: 1, undone: 1 });
    expect(error.step).toBe("reserve");
    expect(error.kind).toBe("unknown");
    expect(error.message).toBe(
      'Saga "i-1" did not reach its point of no return (step "reserve") and has been compensated.',
    );
  });
});
