import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { sleep } from "../../src/core/clock.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

/** The sleep under every backoff: it ends early, with the signal's reason, when the run is aborted. */
describe("sleep with an abort signal", () => {
  it("rejects at once with the reason of a signal already aborted, setting no timer", async () => {
    const clock = new VirtualClock();
    const reason = new Error("cancelled before");
    await expect(sleep(clock, 1_000, AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(clock.pending).toBe(0);
  });

  it("rejects with the signal's reason when it aborts mid-sleep, cancelling its timer and its listener", async () => {
    const clock = new VirtualClock();
    const controller = new AbortController();
    const slept = sleep(clock, 1_000, controller.signal);
    expect(clock.pending).toBe(1);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    const reason = new Error("cancelled during");
    controller.abort(reason);
    await expect(slept).rejects.toBe(reason);
    expect(clock.pending).toBe(0);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("resolves after its time and leaves no listener on a signal that outlives it", async () => {
    const clock = new VirtualClock();
    const controller = new AbortController();
    const slept = sleep(clock, 1_000, controller.signal);
    clock.advance(999);
    let done = false;
    void slept.then(() => {
      done = true;
    });
    await Promise.resolve();
    expect(done).toBe(false);
    clock.advance(1);
    await slept;
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    // A later abort finds nothing of the finished sleep to call.
    controller.abort(new Error("too late"));
  });

  it("resolves after its time without a signal", async () => {
    const clock = new VirtualClock();
    const slept = sleep(clock, 50);
    clock.advance(50);
    await expect(slept).resolves.toBeUndefined();
  });
});
