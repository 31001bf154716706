import { setTimeout as realDelay } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { defineStore, LockstepDefinitionError, sleep } from "../../src/index.js";
import {
  InFlightCalls,
  NO_FAULTS,
  SeededScheduler,
  simulate,
  VirtualClock,
  withFaults,
} from "../../src/testing/index.js";

/** A deadline on the virtual clock raced against a call that answers after real milliseconds. */
async function deadlineRace(clock: VirtualClock, call: () => Promise<string>): Promise<string> {
  const deadline = sleep(clock, 10).then(() => "deadline");
  return clock.run(Promise.race([call(), deadline]));
}

describe("a VirtualClock waits for counted real I/O", () => {
  it("does not jump to a deadline while a counted call is in flight", async () => {
    const answer = () => realDelay(30).then(() => "answer");
    // Uncounted, the call looks idle and virtual time jumps past its deadline at once.
    expect(await deadlineRace(new VirtualClock(0), answer)).toBe("deadline");
    const clock = new VirtualClock(0);
    expect(await deadlineRace(clock, () => clock.io.track(answer, "db.query"))).toBe("answer");
    expect(clock.now()).toBe(0);
    expect(clock.io.count).toBe(0);
    expect(clock.io.stalls).toBe(0);
  });

  it("releases no held call while a counted call is in flight, so calls land in one order", async () => {
    const order = async () => {
      const clock = new VirtualClock(0);
      const scheduler = new SeededScheduler(3);
      const landed: string[] = [];
      const slow = clock.io.track(async () => {
        await realDelay(20);
        landed.push("slow");
      });
      const held = ["a", "b", "c"].map((label) =>
        scheduler.hold(label, async () => {
          landed.push(label);
        }),
      );
      await clock.settle(Promise.all([slow, ...held]), { scheduler });
      return landed;
    };
    const first = await order();
    expect(first[0]).toBe("slow");
    expect(await order()).toEqual(first);
  });

  it("gives up on a call that never answers after ioStallMs, counting a stall and naming it", async () => {
    const clock = new VirtualClock(0, { ioStallMs: 20 });
    void clock.io.track(() => new Promise(() => {}), "db.lock");
    expect(clock.io.pending).toEqual(["db.lock"]);
    const waited = await clock.settle(sleep(clock, 5_000).then(() => clock.now()));
    expect(waited).toEqual({ status: "fulfilled", value: 5_000 });
    expect(clock.io.stalls).toBe(1);
    // The stalled call is not waited for again until another call begins.
    expect(await clock.drainIo()).toBe(false);
    expect(clock.io.stalls).toBe(1);
  });

  it("refuses a bad ioStallMs, and an inFlight that is not a clock's io", () => {
    expect(() => new VirtualClock(0, { ioStallMs: 0 })).toThrow(LockstepDefinitionError);
    const store = defineStore({ id: "custom", handle: { get: async () => 1 } });
    expect(() => withFaults(store, NO_FAULTS, { inFlight: {} as InFlightCalls })).toThrow(
      "Expected `inFlight` to be the `io` of a VirtualClock (an InFlightCalls), got",
    );
  });
});

describe("withFaults counts the calls that reach a store", () => {
  /** A store with a transaction whose end can come after an abort, while its work still runs. */
  function slowStore() {
    const handle = { get: async (key: string) => realDelay(5).then(() => key) };
    return defineStore({
      id: "slow",
      handle,
      capabilities: { transactions: true },
      transaction: async <T>(
        work: (tx: typeof handle) => Promise<T>,
        scope: { signal: AbortSignal },
      ) => {
        await realDelay(5); // BEGIN
        const ran = work(handle);
        const aborted = new Promise<never>((_, reject) =>
          scope.signal.addEventListener("abort", () => reject(new Error("rolled back")), {
            once: true,
          }),
        );
        const out = await Promise.race([ran, aborted]);
        await realDelay(5); // COMMIT
        return out;
      },
    });
  }

  it("counts a handle call while it runs, and a transaction only while it begins and ends", async () => {
    const clock = new VirtualClock(0);
    const store = withFaults(slowStore(), NO_FAULTS, { clock, inFlight: clock.io });
    const seen: number[] = [];
    const value = await clock.run(
      store.transaction?.(
        async (tx) => {
          seen.push(clock.io.count);
          // Work that waits on the virtual clock inside the transaction: time may move.
          await sleep(clock, 1_000);
          return tx.get("k");
        },
        { signal: new AbortController().signal, deadline: Number.MAX_SAFE_INTEGER },
      ) ?? Promise.reject(new Error("no transaction")),
    );
    expect(value).toBe("k");
    expect(seen).toEqual([0]);
    expect(clock.now()).toBe(1_000);
    expect(clock.io.count).toBe(0);
  });

  it("stops counting a transaction the store gave up on while its work still ran", async () => {
    const clock = new VirtualClock(0);
    const store = withFaults(slowStore(), NO_FAULTS, { clock, inFlight: clock.io });
    const abort = new AbortController();
    let finishWork: () => void = () => {};
    const work = new Promise<void>((resolve) => {
      finishWork = resolve;
    });
    const ended = store.transaction?.(() => work, {
      signal: abort.signal,
      deadline: Number.MAX_SAFE_INTEGER,
    });
    await realDelay(20);
    abort.abort();
    await expect(ended).rejects.toThrow("rolled back");
    finishWork();
    await realDelay(5);
    expect(clock.io.count).toBe(0);
  });
});

describe("the scenario's realIo", () => {
  it("is refused unless it is a boolean, and ioStallMs unless a positive integer", () => {
    const scenario = { setup: () => ({ stores: {} }), saga: () => ({ steps: [] }), input: {} };
    expect(() => simulate({ ...scenario, realIo: "yes" } as never)).toThrow(
      'Expected `realIo` of simulate to be a boolean, got `"yes"` (string).',
    );
    expect(() => simulate({ ...scenario, ioStallMs: -1 } as never)).toThrow(
      LockstepDefinitionError,
    );
  });
});

it("InFlightCalls.begin ends once, however often its end is called", () => {
  const calls = new InFlightCalls();
  const end = calls.begin("x");
  expect(calls.count).toBe(1);
  end();
  end();
  expect(calls.count).toBe(0);
});
