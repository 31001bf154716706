import { getEventListeners } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Clock } from "../../src/core/clock.js";
import { systemClock } from "../../src/core/clock.js";
import {
  type AbortWatch,
  abortWatchOf,
  type CallScope,
  callWithDeadline,
  raceAbortWatch,
  signalWatch,
} from "../../src/core/deadline.js";

/**
 * What adapters rely on when they watch a call's abort without its AbortSignal (abortWatchOf), race
 * a promise against it (raceAbortWatch), and what callWithDeadline leaves behind on the caller's
 * signal and clock once a call is over.
 */

/** A clock whose timers fire only when the test says so. */
function manualClock(): Clock & { fire(): void; pending(): number } {
  const timers = new Set<() => void>();
  return {
    now: () => 5_000,
    setTimer(callback) {
      timers.add(callback);
      return () => timers.delete(callback);
    },
    fire() {
      const due = [...timers];
      timers.clear();
      for (const callback of due) callback();
    },
    pending: () => timers.size,
  };
}

/** Starts a call that never settles on its own and hands back its scope's watch. */
function hangingWatch(clock: Clock, parent?: AbortSignal) {
  let watch: AbortWatch | undefined;
  let scope: CallScope | undefined;
  const outcome = callWithDeadline<never>(clock, 50, parent, (s) => {
    scope = s;
    watch = abortWatchOf(s);
    return new Promise<never>(() => {});
  });
  if (watch === undefined || scope === undefined)
    throw new Error("fn was not called synchronously");
  return { outcome, watch, scope };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("a call's abort watch", () => {
  it("runs every listener once, in the order they were added", async () => {
    const clock = manualClock();
    const { outcome, watch } = hangingWatch(clock);
    const calls: string[] = [];
    for (const name of ["a", "b", "c", "d"]) watch.onAbort(() => calls.push(name));
    clock.fire();
    expect((await outcome).status).toBe("timeout");
    expect(calls).toEqual(["a", "b", "c", "d"]);
  });

  it("keeps the order when a listener is added after the first one was removed", async () => {
    const clock = manualClock();
    const { outcome, watch } = hangingWatch(clock);
    const calls: string[] = [];
    const a = () => calls.push("a");
    watch.onAbort(a);
    watch.onAbort(() => calls.push("b"));
    watch.offAbort(a);
    watch.onAbort(() => calls.push("c"));
    clock.fire();
    await outcome;
    expect(calls).toEqual(["b", "c"]);
  });

  it("stops calling exactly the listeners removed, wherever they were added, and ignores unknown ones", async () => {
    const clock = manualClock();
    const { outcome, watch } = hangingWatch(clock);
    const calls: string[] = [];
    const listener = (name: string) => () => {
      calls.push(name);
    };
    const listeners = {
      a: listener("a"),
      b: listener("b"),
      c: listener("c"),
      d: listener("d"),
      e: listener("e"),
    };
    for (const listener of Object.values(listeners)) watch.onAbort(listener);
    watch.offAbort(listeners.d);
    watch.offAbort(listeners.b);
    watch.offAbort(() => calls.push("never added"));
    watch.offAbort(listeners.b);
    clock.fire();
    await outcome;
    expect(calls).toEqual(["a", "c", "e"]);
  });

  it("ignores removing a listener it does not hold, and removing one twice", async () => {
    const clock = manualClock();
    const { outcome, watch } = hangingWatch(clock);
    const calls: string[] = [];
    const once = () => calls.push("removed");
    watch.onAbort(once);
    watch.offAbort(once);
    watch.offAbort(once);
    watch.onAbort(() => calls.push("kept"));
    watch.offAbort(() => calls.push("never added"));
    clock.fire();
    await outcome;
    expect(calls).toEqual(["kept"]);
  });

  it("does not call a listener added after the abort", async () => {
    const clock = manualClock();
    const { outcome, watch } = hangingWatch(clock);
    clock.fire();
    await outcome;
    const late = vi.fn();
    watch.onAbort(late);
    expect(watch.aborted).toBe(true);
    expect(late).not.toHaveBeenCalled();
  });

  it("keeps the parent's reason when a clock that cannot cancel fires the deadline afterwards", async () => {
    // A clock whose cancel does nothing: its timer still fires after the call was settled.
    const timers: (() => void)[] = [];
    const clock: Clock = {
      now: () => 0,
      setTimer(callback) {
        timers.push(callback);
        return () => {};
      },
    };
    const parent = new AbortController();
    const { outcome, watch, scope } = hangingWatch(clock, parent.signal);
    parent.abort("user cancelled");
    for (const fire of timers) fire();
    expect(await outcome).toMatchObject({ status: "aborted", reason: "user cancelled" });
    expect(watch.reason).toBe("user cancelled");
    expect(scope.signal.reason).toBe("user cancelled");
  });
});

describe("a watch over a plain signal", () => {
  it("reports the signal's state and calls a listener on abort until it is removed", () => {
    const controller = new AbortController();
    const watch = signalWatch(controller.signal);
    const kept = vi.fn();
    const removed = vi.fn();
    watch.onAbort(kept);
    watch.onAbort(removed);
    watch.offAbort(removed);
    expect(watch.aborted).toBe(false);
    controller.abort("stop");
    expect(watch.aborted).toBe(true);
    expect(watch.reason).toBe("stop");
    expect(kept).toHaveBeenCalledTimes(1);
    expect(removed).not.toHaveBeenCalled();
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });
});

describe("raceAbortWatch", () => {
  it("rejects at once with the reason when the watch has already aborted, and swallows the abandoned promise's rejection", async () => {
    const controller = new AbortController();
    controller.abort("gone");
    let rejectLater: (error: unknown) => void = () => {};
    const abandoned = new Promise<string>((_resolve, reject) => {
      rejectLater = reject;
    });
    const raced = raceAbortWatch(abandoned, signalWatch(controller.signal), () => "gave up");
    await expect(raced).rejects.toBe("gave up");
    rejectLater(new Error("late failure"));
  });

  it("rejects at once when a call's own watch has already aborted", async () => {
    const clock = manualClock();
    const { outcome, watch } = hangingWatch(clock);
    clock.fire();
    await outcome;
    await expect(raceAbortWatch(new Promise(() => {}), watch, () => "too late")).rejects.toBe(
      "too late",
    );
  });

  it("settles with the promise and then stops listening to the signal", async () => {
    const controller = new AbortController();
    const reasonOf = vi.fn(() => "aborted");
    await expect(
      raceAbortWatch(Promise.resolve(7), signalWatch(controller.signal), reasonOf),
    ).resolves.toBe(7);
    await expect(
      raceAbortWatch(Promise.reject(new Error("no")), signalWatch(controller.signal), reasonOf),
    ).rejects.toThrow("no");
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    controller.abort();
    expect(reasonOf).not.toHaveBeenCalled();
  });
});

describe("callWithDeadline", () => {
  it.each([
    ["undefined", undefined],
    ["null", null],
    ["a number", 42],
    ["a string", "done"],
  ])("takes %s returned synchronously as the call's value", async (_what, value) => {
    const clock = manualClock();
    expect(await callWithDeadline(clock, 50, undefined, () => value)).toEqual({
      status: "ok",
      value,
    });
    expect(clock.pending()).toBe(0);
  });

  it("awaits a callable thenable the call returns", async () => {
    const clock = manualClock();
    const thenable = Object.assign(() => {}, {
      // biome-ignore lint/suspicious/noThenProperty: a thenable function is what this test is about
      then(resolve: (value: string) => void) {
        resolve("from a callable thenable");
      },
    });
    expect(await callWithDeadline(clock, 50, undefined, () => thenable as never)).toEqual({
      status: "ok",
      value: "from a callable thenable",
    });
  });

  it("rejects with the clock's error, without calling fn, when the clock fails", async () => {
    const failing: Clock = {
      now: () => 0,
      setTimer() {
        throw new Error("clock is broken");
      },
    };
    const fn = vi.fn(() => "never");
    const outcome = callWithDeadline(failing, 50, undefined, fn);
    const settled = await Promise.race([
      outcome.then(
        () => "resolved",
        (error: unknown) => error,
      ),
      new Promise((resolve) => setTimeout(() => resolve("still pending"), 0)),
    ]);
    expect(settled).toEqual(new Error("clock is broken"));
    expect(fn).not.toHaveBeenCalled();
  });

  it("stops listening to the caller's signal once the call is over, whatever ended it", async () => {
    const clock = manualClock();
    const parent = new AbortController();
    let scope: CallScope | undefined;
    expect(
      await callWithDeadline(clock, 50, parent.signal, async (s) => {
        scope = s;
        return "ok";
      }),
    ).toEqual({ status: "ok", value: "ok" });
    expect(
      await callWithDeadline(clock, 50, parent.signal, async () => {
        throw new Error("failed");
      }),
    ).toMatchObject({ status: "error" });
    const timedOut = hangingWatch(clock, parent.signal);
    clock.fire();
    expect((await timedOut.outcome).status).toBe("timeout");
    expect(getEventListeners(parent.signal, "abort")).toHaveLength(0);
    // The finished call's scope does not abort when the caller later cancels.
    parent.abort("later");
    expect(scope?.signal.aborted).toBe(false);
    expect(scope === undefined ? undefined : abortWatchOf(scope).aborted).toBe(false);
  });

  it("sets no timer on the system clock for a call whose caller had already cancelled", async () => {
    const parent = new AbortController();
    parent.abort("cancelled before");
    const setTimer = vi.spyOn(globalThis, "setTimeout");
    const outcome = await callWithDeadline(systemClock, 60_000, parent.signal, async () => "late");
    expect(outcome).toMatchObject({ status: "aborted", reason: "cancelled before" });
    expect(setTimer).not.toHaveBeenCalled();
  });
});
