import { describe, expect, it } from "vitest";
import type { Clock } from "../../src/core/clock.js";
import { systemClock } from "../../src/core/clock.js";
import {
  abortWatchOf,
  type CallScope,
  callWithDeadline,
  callWithDeadlineNow,
} from "../../src/core/deadline.js";

/**
 * callWithDeadline creates a scope's AbortSignal only when someone reads it, and adapters watch the
 * abort without it (abortWatchOf). These tests hold the two views to one behaviour: whenever the
 * signal is read, and whoever watches, the scope aborts at the same moment with the same reason.
 */

/** A clock whose timers fire only when the test says so. */
function manualClock(): Clock & { fire(): void; pending(): number } {
  const timers = new Set<() => void>();
  return {
    now: () => 1_000,
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

/** Starts a call that never settles on its own and hands back its scope. */
function hanging(
  clock: Clock,
  parent?: AbortSignal,
  onStart?: (scope: CallScope) => void,
): { outcome: ReturnType<typeof callWithDeadline<never>>; scope: CallScope } {
  let seen: CallScope | undefined;
  const outcome = callWithDeadline<never>(clock, 50, parent, (scope) => {
    seen = scope;
    onStart?.(scope);
    return new Promise<never>(() => {});
  });
  if (seen === undefined) throw new Error("callWithDeadline did not call fn synchronously");
  return { outcome, scope: seen };
}

describe("callWithDeadline's scope", () => {
  it("is not aborted, carries the deadline, returns one signal however often it is read, and clears its timer", async () => {
    const clock = manualClock();
    const outcome = await callWithDeadline(clock, 50, undefined, (scope) => {
      expect(scope.deadline).toBe(1_050);
      expect(abortWatchOf(scope).aborted).toBe(false);
      expect(scope.signal.aborted).toBe(false);
      expect(scope.signal).toBe(scope.signal);
      return "done";
    });
    expect(outcome).toEqual({ status: "ok", value: "done" });
    expect(clock.pending()).toBe(0);
  });

  it("aborts at the deadline: listeners on the signal and on the watch run once, with one reason", async () => {
    const clock = manualClock();
    const onSignal: unknown[] = [];
    const onWatch: unknown[] = [];
    const { outcome, scope } = hanging(clock, undefined, (s) => {
      s.signal.addEventListener("abort", () => onSignal.push(s.signal.reason));
      const watch = abortWatchOf(s);
      watch.onAbort(() => onWatch.push(watch.reason));
    });
    clock.fire();
    expect(await outcome).toEqual({ status: "timeout", pending: expect.any(Promise) });
    expect(onSignal).toHaveLength(1);
    expect(onWatch).toEqual(onSignal);
    expect(scope.signal.reason).toBe(onSignal[0]);
  });

  it("gives a signal first read after the deadline already aborted, with the reason the watch saw", async () => {
    const clock = manualClock();
    const { outcome, scope } = hanging(clock);
    const watch = abortWatchOf(scope);
    const onWatch: unknown[] = [];
    watch.onAbort(() => onWatch.push(watch.reason));
    clock.fire();
    expect(await outcome).toEqual({ status: "timeout", pending: expect.any(Promise) });
    expect(watch.aborted).toBe(true);
    expect(scope.signal.aborted).toBe(true);
    expect(scope.signal.reason).toBe(watch.reason);
    expect(onWatch).toEqual([watch.reason]);
    const late: unknown[] = [];
    watch.onAbort(() => late.push("ran"));
    expect(late, "a listener added after the abort never runs, as on an AbortSignal").toEqual([]);
  });

  it("aborts with the parent's reason when the parent aborts, whenever the signal is read", async () => {
    const clock = manualClock();
    const parent = new AbortController();
    const reason = new Error("caller gave up");
    const { outcome, scope } = hanging(clock, parent.signal);
    const watch = abortWatchOf(scope);
    let fired = 0;
    watch.onAbort(() => fired++);
    parent.abort(reason);
    expect(await outcome).toEqual({ status: "aborted", reason, pending: expect.any(Promise) });
    expect(fired).toBe(1);
    expect(watch.reason).toBe(reason);
    expect(scope.signal.aborted).toBe(true);
    expect(scope.signal.reason).toBe(reason);
    expect(clock.pending()).toBe(0);
  });

  it("still calls fn, with an aborted scope, when the parent has already aborted", async () => {
    const clock = manualClock();
    const reason = new Error("already cancelled");
    const seen: boolean[] = [];
    const outcome = await callWithDeadline(clock, 50, AbortSignal.abort(reason), (scope) => {
      seen.push(abortWatchOf(scope).aborted, scope.signal.aborted);
      return "too late";
    });
    expect(seen).toEqual([true, true]);
    expect(outcome).toEqual({ status: "aborted", reason });
  });

  it("reports a synchronous throw and a rejection as errors", async () => {
    const clock = manualClock();
    const thrown = new Error("thrown");
    const rejected = new Error("rejected");
    expect(
      await callWithDeadline(clock, 50, undefined, () => {
        throw thrown;
      }),
    ).toEqual({ status: "error", error: thrown });
    expect(await callWithDeadline(clock, 50, undefined, () => Promise.reject(rejected))).toEqual({
      status: "error",
      error: rejected,
    });
    expect(clock.pending()).toBe(0);
  });

  it("stops calling a watch listener once it is removed", async () => {
    const clock = manualClock();
    const { outcome, scope } = hanging(clock);
    const watch = abortWatchOf(scope);
    const calls: string[] = [];
    const removed = () => calls.push("removed");
    watch.onAbort(removed);
    watch.onAbort(() => calls.push("kept"));
    watch.offAbort(removed);
    clock.fire();
    await outcome;
    expect(calls).toEqual(["kept"]);
  });
});

describe("abortWatchOf on a scope that is not callWithDeadline's own", () => {
  it("watches a plain scope's signal", () => {
    const controller = new AbortController();
    const watch = abortWatchOf({ signal: controller.signal, deadline: 0 });
    const calls: unknown[] = [];
    watch.onAbort(() => calls.push(watch.reason));
    expect(watch.aborted).toBe(false);
    controller.abort("stop");
    expect(watch.aborted).toBe(true);
    expect(calls).toEqual(["stop"]);
  });

  it("follows a copy's own signal, not the scope it was copied from", async () => {
    const clock = manualClock();
    const { outcome, scope } = hanging(clock);
    const spread: CallScope = { ...scope };
    const other = new AbortController();
    const replaced: CallScope = { ...scope, signal: other.signal };
    other.abort("replaced");
    expect(abortWatchOf(replaced).aborted, "the copy's own signal decides").toBe(true);
    expect(abortWatchOf(scope).aborted).toBe(false);
    expect(abortWatchOf(spread).aborted).toBe(false);
    clock.fire();
    await outcome;
    expect(abortWatchOf(spread).aborted, "a plain spread keeps the same signal").toBe(true);
    expect(spread.signal).toBe(scope.signal);
  });
});

describe("callWithDeadline on the system clock", () => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

  it("sets no timer for a call that settles before it returns, and gives its outcome at once", async () => {
    const before = timers();
    const now = callWithDeadlineNow(systemClock, 60_000, undefined, () => "done");
    expect(now).toEqual({ status: "ok", value: "done" });
    const thrown = new Error("thrown");
    expect(
      callWithDeadlineNow(systemClock, 60_000, undefined, () => {
        throw thrown;
      }),
    ).toEqual({ status: "error", error: thrown });
    const later = callWithDeadline(systemClock, 60_000, undefined, () => "done");
    expect(timers()).toBe(before);
    expect(await later).toEqual({ status: "ok", value: "done" });
  });

  it("times out a call that is still pending when it returns, and clears the timer when it settles", async () => {
    const timedOut = await callWithDeadline(systemClock, 5, undefined, (scope) => {
      return new Promise((_resolve, reject) => {
        scope.signal.addEventListener("abort", () => reject(scope.signal.reason));
      });
    });
    expect(timedOut).toEqual({ status: "timeout", pending: expect.any(Promise) });
    const before = timers();
    const pending = callWithDeadline(systemClock, 60_000, undefined, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return "done";
    });
    expect(timers(), "a pending call has its deadline timer").toBe(before + 1);
    expect(await pending).toEqual({ status: "ok", value: "done" });
    expect(timers()).toBe(before);
  });
});
