import { describe, expect, it } from "vitest";
import { callWithDeadline } from "../../src/core/deadline.js";
import { defineStore, LockstepDefinitionError } from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

describe("a store's declared attempt fence", () => {
  it("defaults to none and keeps what the store declares", () => {
    expect(defineStore({ id: "a", handle: {} }).fence).toEqual({ mode: "none" });
    for (const mode of ["kill_and_wait", "in_process", "fence_token", "none"] as const) {
      expect(defineStore({ id: "a", handle: {}, fence: { mode } }).fence).toEqual({ mode });
    }
    expect(
      defineStore({ id: "a", handle: {}, fence: { mode: "landing_horizon", horizonMs: 250 } })
        .fence,
    ).toEqual({ mode: "landing_horizon", horizonMs: 250 });
  });

  it("refuses a fence it does not know, and a horizon that is not a timer delay, naming the value", () => {
    const bad: [unknown, string][] = [
      [{ mode: "pray" }, '`fence` of store "a"'],
      ["kill_and_wait", '`fence` of store "a"'],
      [{ mode: "landing_horizon" }, "`fence.horizonMs`"],
      [{ mode: "landing_horizon", horizonMs: -1 }, "got `-1`"],
      [{ mode: "landing_horizon", horizonMs: 2 ** 31 }, "got `2147483648`"],
      [{ mode: "landing_horizon", horizonMs: 1.5 }, "got `1.5`"],
    ];
    for (const [fence, named] of bad) {
      const define = () => defineStore({ id: "a", handle: {}, fence: fence as never });
      expect(define).toThrow(LockstepDefinitionError);
      expect(define).toThrow(named);
    }
    expect(bad).toHaveLength(6);
  });
});

describe("a call abandoned at its deadline", () => {
  it("hands out the still-running call, which settles when the call does", async () => {
    const clock = new VirtualClock();
    let finish!: () => void;
    const running = callWithDeadline(
      clock,
      100,
      undefined,
      () =>
        new Promise<void>((resolve) => {
          finish = resolve;
        }),
    );
    await clock.advance(100);
    const outcome = await running;
    expect(outcome.status).toBe("timeout");
    if (outcome.status !== "timeout") return;
    let settled = false;
    void outcome.pending?.then(() => {
      settled = true;
    });
    await Promise.resolve();
    expect(settled, "the call has not returned yet").toBe(false);
    finish();
    await outcome.pending;
    expect(settled).toBe(true);
  });

  it("settles the pending call without rejecting when the call fails late", async () => {
    const clock = new VirtualClock();
    let fail!: (error: Error) => void;
    const running = callWithDeadline(
      clock,
      10,
      undefined,
      () =>
        new Promise<void>((_, reject) => {
          fail = reject;
        }),
    );
    await clock.advance(10);
    const outcome = await running;
    if (outcome.status !== "timeout") throw new Error(`expected a timeout, got ${outcome.status}`);
    fail(new Error("late"));
    await expect(outcome.pending).resolves.toBeUndefined();
  });
});
