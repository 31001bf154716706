import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  type AttemptFence,
  type CompensationPolicy,
  committed,
  compensated,
  createRunner,
  defineSaga,
  defineStore,
  LockstepDefinitionError,
  notCommitted,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

const MODES = '"kill_and_wait", "in_process", "fence_token", "landing_horizon", "none"';

const define = (fence: unknown) => () =>
  defineStore({ id: "bank", handle: {}, fence: fence as AttemptFence });

describe("a store's fence option", () => {
  it("refuses what is not an object with a known mode, listing the modes and naming the value", () => {
    for (const [fence, shown] of [
      [null, "`null` (null)"],
      [{ mode: "pray" }, "`[object Object]` (object)"],
      [Object.assign(() => {}, { mode: "none" }), "(function)"],
    ] as const) {
      expect(define(fence)).toThrow(LockstepDefinitionError);
      expect(define(fence)).toThrow(
        `Expected \`fence\` of store "bank" to be an object whose \`mode\` is one of ${MODES}, got `,
      );
      expect(define(fence)).toThrow(shown);
    }
  });

  it("takes a landing horizon from 0 to the largest timer delay, both included", () => {
    for (const horizonMs of [0, 2_147_483_647]) {
      expect(define({ mode: "landing_horizon", horizonMs })().fence).toEqual({
        mode: "landing_horizon",
        horizonMs,
      });
    }
    expect(define({ mode: "landing_horizon", horizonMs: "5" })).toThrow(
      'Expected `fence.horizonMs` of store "bank" to be an integer from 0 to 2147483647, got `"5"` (string).',
    );
  });
});

describe("a kill-and-wait store", () => {
  it("waits for an abandoned call to settle before believing the probe", async () => {
    const clock = new VirtualClock();
    const state = { charged: 0 };
    const store = defineStore({ id: "pg", handle: state, fence: { mode: "kill_and_wait" } });
    const saga = defineSaga("slow", { input: z.object({}) })
      .step("charge", {
        store,
        kind: "pivot",
        timeoutMs: 100,
        retry: { attempts: 3, initialDelayMs: 1 },
        output: z.object({ charged: z.boolean() }),
        // The work ends 200 ms after the deadline, its write landing as it does.
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
    const result = await clock.run(createRunner({ clock }).run(saga, {}));
    clock.advance(10_000);
    expect(result._unsafeUnwrap().steps[0]).toMatchObject({
      status: "committed",
      committedVia: "probe",
      attempts: 1,
    });
    expect(state.charged).toBe(1);
  });
});

describe("a step's compensation option", () => {
  const build = (compensation: unknown) => () =>
    defineSaga("s", { input: z.object({}) })
      .step("a", {
        store: createMemoryStore({ id: "m", tier: "plain" }),
        kind: "compensatable",
        output: z.object({}),
        execute: () => ({}),
        probe: () => committed({}),
        compensate: () => compensated(),
        compensation: compensation as CompensationPolicy,
      })
      .build();

  it("refuses null, arrays and other non-objects, naming the value", () => {
    expect(build("fast")).toThrow(
      'Expected `step "a" of saga "s": compensation` to be an object with `retry` and `timeoutMs`, each optional, got `"fast"` (string).',
    );
    expect(build(null)).toThrow(LockstepDefinitionError);
    expect(build(null)).toThrow(
      'Expected `step "a" of saga "s": compensation` to be an object with `retry` and `timeoutMs`, each optional, got `null` (null).',
    );
    expect(build([])).toThrow(
      'Expected `step "a" of saga "s": compensation` to be an object with `retry` and `timeoutMs`, each optional, got `` (array).',
    );
  });

  it("refuses a null retry rather than taking it for the defaults", () => {
    expect(build({ retry: null })).toThrow(
      'Expected `step "a" of saga "s": compensation.retry` to be an object of retry settings',
    );
    const clock = new VirtualClock();
    expect(() => createRunner({ clock, compensation: { retry: null } as never })).toThrow(
      "Expected `compensation.retry` to be an object of retry settings",
    );
  });
});
