import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type AttemptFence,
  committed,
  compensated,
  createRunner,
  defineSaga,
  defineStore,
  notCommitted,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

/**
 * A pivot whose call times out while its write is still on its way: the write lands `lateMs` after
 * the step's deadline. What the runner may conclude depends only on how the store says it closes
 * an attempt; it must never compensate, or retry under a new attempt, a write that then lands.
 */
function world(fence: AttemptFence, lateMs: number, clock: VirtualClock) {
  const state = { held: 0, charged: 0 };
  const store = defineStore({ id: "remote", handle: state, fence });
  const saga = defineSaga("late", { input: z.object({ id: z.string() }) })
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
        state.held--;
        return compensated();
      },
    })
    .step("charge", {
      store,
      kind: "pivot",
      timeoutMs: 100,
      retry: { attempts: 3, initialDelayMs: 1 },
      output: z.object({ charged: z.boolean() }),
      // The request is on its way and lands later, whatever happens to the call.
      execute: () =>
        new Promise<never>(() => {
          clock.setTimer(() => {
            state.charged++;
          }, 100 + lateMs);
        }),
      probe: async () => (state.charged > 0 ? committed({ charged: true }) : notCommitted()),
    })
    .build();
  return { state, saga };
}

async function runLate(fence: AttemptFence, lateMs: number) {
  const clock = new VirtualClock();
  const { state, saga } = world(fence, lateMs, clock);
  const runner = createRunner({ clock });
  const result = await clock.run(runner.run(saga, { id: "s" }));
  // Let every late write land before looking at the world.
  clock.advance(10_000);
  return { state, result };
}

describe("an attempt whose write lands after its deadline", () => {
  it("on a store with a landing horizon, is probed once the horizon has passed and found", async () => {
    const { state, result } = await runLate({ mode: "landing_horizon", horizonMs: 500 }, 300);
    expect(result.isOk(), result.isErr() ? result.error.message : "").toBe(true);
    expect(result._unsafeUnwrap().steps[1]).toMatchObject({
      status: "committed",
      committedVia: "probe",
    });
    expect(state).toEqual({ held: 1, charged: 1 });
  });

  it("on a store that declares no fence, is never compensated or retried: the saga is in doubt", async () => {
    const { state, result } = await runLate({ mode: "none" }, 300);
    expect(result.isErr()).toBe(true);
    expect(result._unsafeUnwrapErr().code).toBe("in_doubt");
    // The hold stays for the recoverer to settle with the charge, which landed.
    expect(state).toEqual({ held: 1, charged: 1 });
  });

  it("on an in-process store, waits for the abandoned call to settle before believing the probe", async () => {
    const clock = new VirtualClock();
    const state = { charged: 0 };
    const store = defineStore({ id: "local", handle: state, fence: { mode: "in_process" } });
    const saga = defineSaga("slow", { input: z.object({ id: z.string() }) })
      .step("charge", {
        store,
        kind: "pivot",
        timeoutMs: 100,
        retry: { attempts: 3, initialDelayMs: 1 },
        output: z.object({ charged: z.boolean() }),
        // Ignores its signal: the write happens 200 ms after the deadline, then the call returns.
        execute: () =>
          new Promise<{ charged: boolean }>((resolve) => {
            clock.setTimer(() => {
              state.charged++;
              resolve({ charged: true });
            }, 300);
          }),
        probe: async () => (state.charged > 0 ? committed({ charged: true }) : notCommitted()),
      })
      .build();
    const result = await clock.run(createRunner({ clock }).run(saga, { id: "s" }));
    clock.advance(10_000);
    expect(result._unsafeUnwrap().steps[0]).toMatchObject({
      status: "committed",
      committedVia: "probe",
      attempts: 1,
    });
    expect(state.charged, "the pivot ran again under a new attempt").toBe(1);
  });

  it("does not believe a probe that read before the abandoned call settled, even if it settled during the read", async () => {
    const clock = new VirtualClock();
    const state = { charged: 0 };
    const store = defineStore({ id: "local", handle: state, fence: { mode: "in_process" } });
    const saga = defineSaga("racing", { input: z.object({ id: z.string() }) })
      .step("charge", {
        store,
        kind: "pivot",
        timeoutMs: 100,
        retry: { attempts: 3, initialDelayMs: 1 },
        output: z.object({ charged: z.boolean() }),
        // Lands 10 ms after the deadline, while the probe below is still answering.
        execute: () =>
          new Promise<{ charged: boolean }>((resolve) => {
            clock.setTimer(() => {
              state.charged++;
              resolve({ charged: true });
            }, 110);
          }),
        // Reads at once, answers 50 ms later: the write lands between its read and its answer.
        probe: async () => {
          const seen = state.charged;
          await new Promise<void>((resolve) => clock.setTimer(resolve, 50));
          return seen > 0 ? committed({ charged: true }) : notCommitted();
        },
      })
      .build();
    const result = await clock.run(createRunner({ clock }).run(saga, { id: "s" }));
    clock.advance(10_000);
    expect(state.charged, "the pivot ran again under a new attempt").toBe(1);
    expect(result._unsafeUnwrap().steps[0]).toMatchObject({ status: "committed", attempts: 1 });
  });
});
