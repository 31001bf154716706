import { describe, expect, it } from "vitest";
import {
  createRunner,
  ErrorCode,
  type SagaEvent,
  SagaStatus,
  StoreError,
  stepKey,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { injectFault } from "../support/faults.js";
import { balanceOf, createWorld, orderSaga, STRATEGY_OF, TIERS } from "../support/orders.js";

const INPUT = { orderId: "o-1", account: "alice", amount: 30 };

function setup(tier: (typeof TIERS)[number], timeouts: { confirm?: number; probe?: number } = {}) {
  const clock = new VirtualClock();
  const world = createWorld(tier);
  const events: SagaEvent[] = [];
  const runner = createRunner({ clock, onEvent: (e) => events.push(e), random: () => 0.5 });
  const saga = orderSaga(world, clock, timeouts);
  const run = (input: unknown = INPUT, signal?: AbortSignal) =>
    clock.run(runner.run(saga, input as typeof INPUT, signal ? { signal } : {}));
  return { clock, world, events, runner, saga, run };
}

for (const tier of TIERS) {
  describe(`runner on the ${tier} tier`, () => {
    it("completes every step and reports typed outputs and the strategy the store allowed", async () => {
      const { world, run, runner } = setup(tier);
      const result = await run();
      expect(result.isOk(), JSON.stringify(result)).toBe(true);
      const report = result._unsafeUnwrap();
      expect(report.status).toBe(SagaStatus.Completed);
      expect(report.outputs.reserve.strategy).toBe(STRATEGY_OF[tier]);
      expect(report.outputs.notify.noticeKey).toBe(`notice:${stepKey(report.sagaId, "notify")}`);
      expect(report.steps.map((s) => s.status)).toEqual(["committed", "committed", "committed"]);
      expect(balanceOf(world)).toBe(70);
      expect(world.orders.snapshot()["order:o-1"]).toBeDefined();
      const log = await runner.log.load(report.sagaId);
      expect(log?.record.status).toBe("completed");
      expect(log?.record.leaseOwner).toBeNull();
    });

    it("a step that fails before its effect is not compensated and nothing is left behind", async () => {
      const { world, run } = setup(tier);
      const fault = injectFault(
        world.funds,
        { phase: "before", keyPrefix: "hold:" },
        {
          type: "throw",
          error: new StoreError("not_committed", "refused"),
        },
      );
      const result = await run();
      expect(fault.fired()).toBe(1);
      const error = result._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.StepFailed);
      if (error.code !== ErrorCode.StepFailed) return;
      expect(error.step).toBe("reserve");
      expect(error.report.status).toBe(SagaStatus.Compensated);
      expect(balanceOf(world)).toBe(100);
      expect(world.funds.snapshot()["hold:o-1"]).toBeUndefined();
      expect(world.orders.snapshot()).toEqual({});
    });

    it("a pivot that fails before its effect compensates the committed steps in reverse", async () => {
      const { world, run, events } = setup(tier);
      const fault = injectFault(
        world.orders,
        { phase: "before", keyPrefix: "order:" },
        {
          type: "throw",
          error: new StoreError("not_committed", "orders refused the write"),
        },
      );
      const result = await run();
      expect(fault.fired()).toBe(1);
      const error = result._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.StepFailed);
      if (error.code !== ErrorCode.StepFailed) return;
      expect(error.step).toBe("confirm");
      expect(error.kind).toBe("not_committed");
      expect(error.report.steps.map((s) => s.status)).toEqual([
        "compensated",
        "not_committed",
        "skipped",
      ]);
      expect(balanceOf(world)).toBe(100);
      expect(world.funds.snapshot()["hold:o-1"]).toBeUndefined();
      expect(
        events
          .filter((e) => e.type === "compensation.finished")
          .map((e) => e.type === "compensation.finished" && [e.step, e.result]),
      ).toEqual([
        ["confirm", "skipped"],
        ["reserve", "compensated"],
      ]);
    });

    it("a step that commits and then throws is probed, found committed, and not compensated", async () => {
      const { world, run, events } = setup(tier);
      const phase = tier === "plain" ? "after" : "committed";
      const fault = injectFault(
        world.funds,
        { phase, keyPrefix: "hold:" },
        {
          type: "throw",
          error: new Error("connection reset after the write"),
        },
      );
      const result = await run();
      expect(fault.fired()).toBe(1);
      expect(result.isOk(), JSON.stringify(result)).toBe(true);
      const report = result._unsafeUnwrap();
      // On the plain tier runAtomic runs the writes as a saga of its own, whose probe already resolves
      // the lost response, so the step returns normally; elsewhere the step's own probe does.
      const via = tier === "plain" ? "execute" : "probe";
      expect(report.steps[0]).toMatchObject({
        status: "committed",
        committedVia: via,
        attempts: 1,
      });
      expect(balanceOf(world)).toBe(70);
      expect(events.some((e) => e.type === "compensation.started")).toBe(false);
      if (via === "probe") {
        expect(events.find((e) => e.type === "step.probed")).toMatchObject({
          step: "reserve",
          result: "committed",
        });
      }
    });

    it("a pivot that commits and then throws is probed and the saga completes", async () => {
      const { world, run } = setup(tier);
      const fault = injectFault(
        world.orders,
        { phase: "after", keyPrefix: "order:" },
        {
          type: "throw",
          error: new Error("response lost"),
        },
      );
      const result = await run();
      expect(fault.fired()).toBe(1);
      const report = result._unsafeUnwrap();
      expect(report.status).toBe("completed");
      expect(report.steps[1]).toMatchObject({ status: "committed", committedVia: "probe" });
      expect(balanceOf(world)).toBe(70);
    });

    it("a compensation whose guard fails writes nothing and ends needs_attention naming the step", async () => {
      const { world, run } = setup(tier);
      // Another writer moves the hold on before the pivot fails, so undoing it would clobber them.
      injectFault(
        world.orders,
        { phase: "before", keyPrefix: "order:" },
        {
          type: "run",
          fn: async () => {
            const hold = await world.funds.handle.get("hold:o-1");
            await world.funds.handle.put("hold:o-1", {
              ...(hold?.value as object),
              capturedBy: "other",
            });
            throw new StoreError("not_committed", "orders refused the write");
          },
        },
      );
      const before = world.funds.snapshot();
      const writesBefore = world.funds.writeCount;
      const result = await run();
      const error = result._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.NeedsAttention);
      if (error.code !== ErrorCode.NeedsAttention) return;
      expect(error.step).toBe("reserve");
      expect(error.reason).toBe("guard_failed");
      expect(error.report.status).toBe(SagaStatus.NeedsAttention);
      // Only the foreign write happened after the run began; the compensation wrote nothing.
      expect(world.funds.writeCount).toBe(writesBefore + 3); // debit, hold, the foreign update
      expect(balanceOf(world)).toBe(70);
      expect(
        (world.funds.snapshot()["hold:o-1"]?.value as { capturedBy?: string } | undefined)
          ?.capturedBy,
      ).toBe("other");
      expect(Object.keys(before)).toEqual(["acct:alice"]);
    });

    it("a step that hangs past its timeout ends unknown, is probed, and the run returns within the deadline plus the probe's", async () => {
      const { world, run, clock } = setup(tier, { confirm: 1_000, probe: 500 });
      const fault = injectFault(
        world.orders,
        { phase: "before", keyPrefix: "order:" },
        { type: "hang" },
      );
      const start = clock.now();
      const result = await run();
      expect(fault.fired()).toBe(1);
      const error = result._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.StepFailed);
      if (error.code !== ErrorCode.StepFailed) return;
      expect(error.step).toBe("confirm");
      expect(error.kind).toBe("timeout");
      expect(error.report.steps[0]?.status).toBe("compensated");
      // Virtual time, so this is exact rather than a timing race: the hung call is abandoned at its
      // deadline and the probe answers within its own; backoff jitter adds nothing with one attempt.
      expect(clock.now() - start).toBeLessThanOrEqual(1_000 + 500);
      expect(clock.now() - start).toBeGreaterThanOrEqual(1_000);
      expect(balanceOf(world)).toBe(100);
    });

    it("a hang whose write did land is probed committed and the saga continues", async () => {
      const { world, run, clock } = setup(tier, { confirm: 1_000, probe: 500 });
      const fault = injectFault(
        world.orders,
        { phase: "after", keyPrefix: "order:" },
        { type: "hang" },
      );
      const start = clock.now();
      const result = await run();
      expect(fault.fired()).toBe(1);
      expect(result._unsafeUnwrap().steps[1]).toMatchObject({
        status: "committed",
        committedVia: "probe",
      });
      expect(clock.now() - start).toBeLessThanOrEqual(1_000 + 500);
    });

    it("a probe that cannot tell parks the saga in doubt and compensates nothing", async () => {
      const { world, run } = setup(tier);
      world.probeBroken = true;
      const phase = tier === "plain" ? "after" : "committed";
      injectFault(
        world.funds,
        { phase, keyPrefix: "hold:" },
        { type: "throw", error: new Error("socket hang up") },
      );
      const result = await run();
      const error = result._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.InDoubt);
      if (error.code !== ErrorCode.InDoubt) return;
      expect(error.step).toBe("reserve");
      expect(error.report.status).toBe(SagaStatus.InDoubt);
      expect(error.report.steps[0]?.status).toBe("unknown");
      // The write landed and nothing undid it: the recoverer will probe again.
      expect(balanceOf(world)).toBe(70);
    });

    it("retries a transient failure with the same idempotency key", async () => {
      const { world, run, events } = setup(tier);
      const fault = injectFault(
        world.funds,
        { phase: "before", keyPrefix: "acct:" },
        {
          type: "throw",
          error: new StoreError("transient", "database is busy"),
        },
      );
      const result = await run();
      expect(fault.fired()).toBe(1);
      const report = result._unsafeUnwrap();
      expect(report.steps[0]?.attempts).toBe(2);
      expect(world.keysSeen.reserve).toEqual([
        stepKey(report.sagaId, "reserve"),
        stepKey(report.sagaId, "reserve"),
      ]);
      expect(events.filter((e) => e.type === "step.retrying")).toHaveLength(1);
      expect(balanceOf(world)).toBe(70);
    });

    it("after the pivot it only moves forward: a failing retriable step is left to recovery, never compensated", async () => {
      const { world, run } = setup(tier);
      const fault = injectFault(
        world.orders,
        { phase: "before", keyPrefix: "notice:" },
        {
          type: "throw",
          error: new StoreError("transient", "notifications are down"),
        },
        10,
      );
      const result = await run();
      expect(fault.fired()).toBe(2);
      const error = result._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.Incomplete);
      if (error.code !== ErrorCode.Incomplete) return;
      expect(error.step).toBe("notify");
      expect(error.report.status).toBe(SagaStatus.Running);
      expect(error.report.steps.map((s) => s.status)).toEqual([
        "committed",
        "committed",
        "not_committed",
      ]);
      expect(balanceOf(world)).toBe(70);
      expect(world.orders.snapshot()["order:o-1"]).toBeDefined();
    });

    it("cancelling a run compensates what committed", async () => {
      const { world, run } = setup(tier);
      const controller = new AbortController();
      injectFault(
        world.orders,
        { phase: "before", keyPrefix: "order:" },
        {
          type: "run",
          fn: async () => {
            controller.abort(new Error("client went away"));
            await new Promise<never>(() => {});
          },
        },
      );
      const result = await run(INPUT, controller.signal);
      const error = result._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.Cancelled);
      if (error.code !== ErrorCode.Cancelled) return;
      expect(error.report.status).toBe(SagaStatus.Compensated);
      expect(error.report.steps[0]?.status).toBe("compensated");
      expect(balanceOf(world)).toBe(100);
      expect(world.orders.snapshot()["order:o-1"]).toBeUndefined();
    });

    it("invalid input is a typed error naming the field, and nothing is written", async () => {
      const { world, run, runner } = setup(tier);
      const result = await run({ orderId: "o-1", account: "alice", amount: -5 });
      const error = result._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.InvalidInput);
      if (error.code !== ErrorCode.InvalidInput) return;
      expect(error.issues[0]?.path).toBe("amount");
      expect(error.message).toContain("`amount`");
      expect(await runner.log.list()).toHaveLength(0);
      expect(world.funds.writeCount + world.orders.writeCount).toBe(0);
    });
  });
}

describe("runner events and log", () => {
  it("emits a typed event for every transition, in order", async () => {
    const { run, events } = setup("transactional");
    await run();
    expect(events.map((e) => e.type)).toEqual([
      "saga.started",
      "step.started",
      "step.committed",
      "step.started",
      "step.committed",
      "step.started",
      "step.committed",
      "saga.status",
    ]);
    expect(new Set(events.map((e) => e.sagaId)).size).toBe(1);
  });

  it("writes the intent before execute and reuses one key per step", async () => {
    const { run, runner } = setup("batch");
    const report = (await run())._unsafeUnwrap();
    const snapshot = await runner.log.load(report.sagaId);
    const entries = snapshot?.entries ?? [];
    expect(entries.map((e) => `${e.step}:${e.type}`)).toEqual([
      "reserve:intent",
      "reserve:committed",
      "confirm:intent",
      "confirm:committed",
      "notify:intent",
      "notify:committed",
    ]);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Set(entries.map((e) => e.token))).toEqual(new Set([1]));
  });

  it("refuses a saga id that already exists without running anything", async () => {
    const { world, runner, saga, clock } = setup("plain");
    const first = await clock.run(runner.run(saga, INPUT, { sagaId: "fixed" }));
    expect(first.isOk()).toBe(true);
    const writes = world.funds.writeCount;
    const second = await clock.run(
      runner.run(saga, { ...INPUT, orderId: "o-2" }, { sagaId: "fixed" }),
    );
    expect(second._unsafeUnwrapErr().code).toBe(ErrorCode.SagaExists);
    expect(world.funds.writeCount).toBe(writes);
  });

  it("stops writing when another runner took the lease over", async () => {
    const clock = new VirtualClock();
    const world = createWorld("transactional");
    const runner = createRunner({ clock, leaseTtlMs: 1_000 });
    const saga = orderSaga(world, clock);
    // While the pivot runs, the lease expires and a recoverer claims the saga.
    injectFault(
      world.orders,
      { phase: "before", keyPrefix: "order:" },
      {
        type: "run",
        fn: async () => {
          clock.advance(2_000);
          const [sagaId] = (await runner.log.list()).map((r) => r.sagaId);
          await runner.log.acquireLease(sagaId as string, "recoverer", 60_000, clock.now());
        },
      },
    );
    const result = await clock.run(runner.run(saga, INPUT));
    expect(result._unsafeUnwrapErr().code).toBe(ErrorCode.LeaseLost);
    const [record] = await runner.log.list();
    expect(record?.leaseOwner).toBe("recoverer");
    expect(record?.status).toBe("running");
  });
});
