import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type AttemptFence,
  committed,
  compensated,
  createRunner,
  defineSaga,
  defineStore,
  ErrorCode,
  notCommitted,
  StoreError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

/**
 * What lockstep concludes about a step whose call did not return — it timed out, failed in a way
 * that may have applied, or was cancelled — depends on how its store says it closes an attempt.
 * Each world below is one step whose write can be made to land late, and a probe that reads it.
 */
interface Charge {
  /** What each call of execute does, in order; later calls commit at once. */
  readonly calls: ("hang" | "fail_unknown" | { readonly landsAfterMs: number })[];
  readonly timeoutMs?: number;
  /** What each call of the probe answers before it reads; later calls read. */
  readonly probes?: "throw"[];
}

function chargeWorld(fence: AttemptFence, clock: VirtualClock, plan: Charge) {
  const state = { charged: 0, executed: 0, probed: 0, refunded: 0, held: 0, released: 0 };
  const store = defineStore({ id: "payments", handle: state, fence });
  const saga = defineSaga("pay", { input: z.object({ id: z.string() }) })
    .step("hold", {
      store,
      kind: "compensatable",
      output: z.object({ held: z.boolean() }),
      execute: async () => {
        state.held++;
        return { held: true };
      },
      probe: async () => (state.held > 0 ? committed({ held: true }) : notCommitted()),
      compensate: async () => {
        state.released++;
        return compensated();
      },
    })
    .step("charge", {
      store,
      kind: "compensatable",
      ...(plan.timeoutMs === undefined ? {} : { timeoutMs: plan.timeoutMs }),
      retry: { attempts: 3, initialDelayMs: 1 },
      output: z.object({ charged: z.boolean() }),
      execute: () => {
        const call = plan.calls[state.executed++];
        if (call === "hang") return new Promise<never>(() => {});
        if (call === "fail_unknown") {
          return Promise.reject(new StoreError("unknown", "the connection dropped"));
        }
        if (call !== undefined) {
          // Ignores its signal: the write lands later, then the call returns.
          return new Promise<{ charged: boolean }>((resolve) => {
            clock.setTimer(() => {
              state.charged++;
              resolve({ charged: true });
            }, call.landsAfterMs);
          });
        }
        state.charged++;
        return Promise.resolve({ charged: true });
      },
      probe: async () => {
        const answer = plan.probes?.[state.probed++];
        if (answer === "throw") throw new Error("the payments service is unreachable");
        return state.charged > 0 ? committed({ charged: true }) : notCommitted();
      },
      compensate: async () => {
        state.refunded++;
        return compensated();
      },
    })
    .step("confirm", {
      store,
      kind: "pivot",
      output: z.object({ confirmed: z.boolean() }),
      execute: async () => ({ confirmed: true }),
      probe: async () => notCommitted(),
    })
    .build();
  return { state, saga };
}

async function runOnce(fence: AttemptFence, plan: Charge, signal?: AbortSignal) {
  const clock = new VirtualClock();
  const { state, saga } = chargeWorld(fence, clock, plan);
  const runner = createRunner({ clock });
  const result = await clock.run(
    runner.run(
      saga,
      { id: "p-1" },
      { sagaId: "pay-1", ...(signal === undefined ? {} : { signal }) },
    ),
  );
  return { clock, state, saga, runner, result };
}

describe("a step whose call failed in a way that may have applied", () => {
  it("on a store that declares no fence, is in doubt when the probe does not find the write", async () => {
    const { state, result } = await runOnce({ mode: "none" }, { calls: ["fail_unknown"] });
    expect(result._unsafeUnwrapErr().code).toBe(ErrorCode.InDoubt);
    expect(state).toMatchObject({ executed: 1, charged: 0, released: 0 });
  });

  it("on an in-process store, is run again once the probe does not find the write", async () => {
    const { state, result } = await runOnce({ mode: "in_process" }, { calls: ["fail_unknown"] });
    expect(result._unsafeUnwrap().steps[1]).toMatchObject({
      status: "committed",
      committedVia: "execute",
      attempts: 2,
    });
    expect(state).toMatchObject({ executed: 2, charged: 1 });
  });
});

describe("a step whose call timed out", () => {
  it("on a store that fences by token, is run again once the fence is durable and the probe does not find the write", async () => {
    const { state, result } = await runOnce({ mode: "fence_token" }, { calls: ["hang"] });
    expect(result._unsafeUnwrap().steps[1]).toMatchObject({
      status: "committed",
      committedVia: "execute",
      attempts: 2,
    });
    expect(state).toMatchObject({ executed: 2, charged: 1, released: 0 });
  });

  it("on an in-process store, is in doubt when the call has not settled within the step's timeout and the grace", async () => {
    // The step's 100 ms and 15 s of grace end before the write lands, 20 s after the deadline.
    const { state, result, clock } = await runOnce(
      { mode: "in_process" },
      { calls: [{ landsAfterMs: 20_100 }], timeoutMs: 100 },
    );
    expect(result._unsafeUnwrapErr().code).toBe(ErrorCode.InDoubt);
    clock.advance(60_000);
    expect(state).toMatchObject({ executed: 1, charged: 1, released: 0, refunded: 0 });
  });
});

describe("a step cancelled while its call was out", () => {
  it("on an in-process store, is compensated when its write lands after the cancellation", async () => {
    const controller = new AbortController();
    const clock = new VirtualClock();
    const { state, saga } = chargeWorld({ mode: "in_process" }, clock, {
      calls: [{ landsAfterMs: 500 }],
    });
    clock.setTimer(() => controller.abort(new Error("the caller gave up")), 100);
    const result = await clock.run(
      createRunner({ clock }).run(
        saga,
        { id: "p-1" },
        { sagaId: "pay-1", signal: controller.signal },
      ),
    );
    expect(result._unsafeUnwrapErr().code).toBe(ErrorCode.Cancelled);
    // The probe waited for the call: the charge that landed is refunded, not left behind.
    expect(state).toMatchObject({ executed: 1, charged: 1, refunded: 1, released: 1 });
  });
});

describe("a step left unknown by an earlier run, settled when the saga is submitted again", () => {
  /** A first run that leaves the charge in doubt: its call hangs and its probe cannot answer. */
  async function leftInDoubt(fence: AttemptFence, more: Partial<Charge> = {}) {
    const world = await runOnce(fence, { calls: ["hang"], probes: ["throw"], ...more });
    expect(world.result._unsafeUnwrapErr().code).toBe(ErrorCode.InDoubt);
    const again = () =>
      world.clock.run(world.runner.run(world.saga, { id: "p-1" }, { sagaId: "pay-1" }));
    return { ...world, again };
  }

  it("on a store that declares no fence, stays in doubt when the probe does not find the write", async () => {
    const { state, again } = await leftInDoubt({ mode: "none" });
    expect((await again())._unsafeUnwrapErr().code).toBe(ErrorCode.InDoubt);
    expect(state).toMatchObject({ executed: 1, charged: 0, released: 0 });
  });

  it.each([{ mode: "fence_token" }, { mode: "in_process" }, { mode: "kill_and_wait" }] as const)(
    "on a store whose fence is $mode, is run again when the probe does not find the write",
    async (fence) => {
      const { state, again } = await leftInDoubt(fence);
      const report = (await again())._unsafeUnwrap();
      expect(report.steps[1]).toMatchObject({ status: "committed", attempts: 2 });
      expect(state).toMatchObject({ executed: 2, charged: 1, released: 0 });
    },
  );

  it("on a store with a landing horizon, waits the horizon out and finds a write that landed meanwhile", async () => {
    const { state, again, clock } = await leftInDoubt({
      mode: "landing_horizon",
      horizonMs: 1_000,
    });
    // The earlier attempt's write is still on its way: it lands within the horizon.
    clock.setTimer(() => {
      state.charged++;
    }, 500);
    const report = (await again())._unsafeUnwrap();
    expect(report.steps[1]).toMatchObject({ status: "committed", committedVia: "probe" });
    expect(state).toMatchObject({ executed: 1, charged: 1, released: 0 });
  });
});
