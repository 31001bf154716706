import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  committed,
  createRecoverer,
  createRunner,
  defineSaga,
  LockstepDefinitionError,
  MemorySagaLog,
  StoreError,
  sleep,
} from "../../src/index.js";
import {
  CrashSwitch,
  createMemoryStore,
  deriveSeed,
  SeededScheduler,
  SimulatedCrash,
  seededRandom,
  VirtualClock,
} from "../../src/testing/index.js";

describe("VirtualClock.settle", () => {
  it("says how a promise ended instead of throwing", async () => {
    const clock = new VirtualClock();
    expect(await clock.settle(Promise.resolve(3))).toEqual({ status: "fulfilled", value: 3 });
    const error = new Error("no");
    expect(await clock.settle(Promise.reject(error))).toEqual({
      status: "rejected",
      reason: error,
    });
    expect(await clock.settle(new Promise(() => {}))).toEqual({ status: "stuck", reason: "idle" });
  });

  it("jumps from timer to timer, and gives up at a time limit on a program that never goes idle", async () => {
    const clock = new VirtualClock(0);
    const waited = await clock.settle(sleep(clock, 3_600_000).then(() => clock.now()));
    expect(waited).toEqual({ status: "fulfilled", value: 3_600_000 });
    let beats = 0;
    const beat = () => {
      beats++;
      clock.setTimer(beat, 1_000);
    };
    clock.setTimer(beat, 1_000);
    const hung = await clock.settle(new Promise(() => {}), { until: clock.now() + 10_000 });
    expect(hung).toEqual({ status: "stuck", reason: "time_limit" });
    expect(beats).toBe(10);
    const busy = await clock.settle(new Promise(() => {}), { maxSteps: 5 });
    expect(busy).toEqual({ status: "stuck", reason: "max_steps" });
  });

  it("runs lease expiry, deadlines and backoff of a real saga without real waiting", async () => {
    const clock = new VirtualClock(0);
    const store = createMemoryStore({ id: "s", tier: "plain" });
    let attempts = 0;
    const saga = defineSaga("slow", { input: z.object({}) })
      .step("write", {
        store,
        kind: "pivot",
        output: z.object({ ok: z.boolean() }),
        timeoutMs: 60_000,
        retry: { attempts: 4, initialDelayMs: 600_000, maxDelayMs: 3_600_000, jitter: 0 },
        execute: async () => {
          attempts++;
          if (attempts < 4) throw new StoreError("transient", "busy");
          return { ok: true };
        },
        probe: () => committed({ ok: true }),
      })
      .build();
    const runner = createRunner({ clock, log: new MemorySagaLog(), leaseTtlMs: 30_000 });
    const result = await clock.run(runner.run(saga, {}));
    expect(result.isOk()).toBe(true);
    expect(attempts).toBe(4);
    // Three backoffs of 10, 20 and 40 minutes passed on the virtual clock.
    expect(clock.now()).toBe(600_000 + 1_200_000 + 2_400_000);
    const recoverer = createRecoverer({ runner, sagas: [saga] });
    expect((await clock.run(recoverer.recover()))._unsafeUnwrap().claimed).toBe(0);
  });

  it("keeps run() for callers that want a throw on deadlock", async () => {
    const clock = new VirtualClock();
    await expect(clock.run(new Promise(() => {}))).rejects.toThrow(LockstepDefinitionError);
    expect(() => new VirtualClock(0, { idleTurns: 0 })).toThrow(
      "Expected `idleTurns` to be an integer >= 1, got `0` (number).",
    );
  });
});

describe("SeededScheduler", () => {
  /** Three actors each making three held calls; returns the order the calls ran in. */
  async function interleave(seed: number): Promise<string[]> {
    const clock = new VirtualClock();
    const scheduler = new SeededScheduler(seed);
    const order: string[] = [];
    const actor = async (name: string) => {
      for (let i = 0; i < 3; i++) {
        await scheduler.hold(`${name}${i}`, async () => {
          order.push(`${name}${i}`);
        });
      }
    };
    await clock.settle(Promise.all(["a", "b", "c"].map(actor)), { scheduler });
    expect(scheduler.history).toEqual(order);
    return order;
  }

  it("interleaves concurrent calls in an order fixed by its seed", async () => {
    const first = await interleave(1);
    expect(first).toHaveLength(9);
    expect(await interleave(1)).toEqual(first);
    const orders = new Set<string>();
    for (let seed = 0; seed < 20; seed++) orders.add((await interleave(seed)).join(","));
    expect(orders.size).toBeGreaterThan(10);
  });

  it("moves time only once every actor waits on a timer", async () => {
    const clock = new VirtualClock(0);
    const scheduler = new SeededScheduler(3);
    const seen: number[] = [];
    const sleeper = async () => {
      await sleep(clock, 100);
      await scheduler.hold("late", async () => seen.push(clock.now()));
    };
    const busy = async () => {
      for (let i = 0; i < 5; i++) await scheduler.hold("now", async () => seen.push(clock.now()));
    };
    await clock.settle(Promise.all([sleeper(), busy()]), { scheduler });
    expect(seen).toEqual([0, 0, 0, 0, 0, 100]);
  });
});

describe("seeded randomness", () => {
  it("replays a sequence from a seed and spreads derived seeds", () => {
    const a = seededRandom(9);
    const b = seededRandom(9);
    const values = Array.from({ length: 1_000 }, () => a());
    expect(Array.from({ length: 1_000 }, () => b())).toEqual(values);
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(new Set(values).size).toBe(1_000);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(deriveSeed(1, "x")).toBe(deriveSeed(1, "x"));
    expect(deriveSeed(1, "x")).not.toBe(deriveSeed(1, "y"));
    expect(deriveSeed(1, "x")).not.toBe(deriveSeed(2, "x"));
    expect(() => seededRandom(2 ** 32)).toThrow(LockstepDefinitionError);
  });
});

describe("CrashSwitch", () => {
  it("dies at its boundary, by a trip, or by a kill, and aborts its signal when it does", () => {
    const counted = new CrashSwitch(2);
    counted.boundary("one");
    expect(() => counted.boundary("two")).toThrow(SimulatedCrash);
    expect(counted.crashedAt).toBe("two");
    expect(counted.signal.aborted).toBe(true);
    expect(() => counted.assertAlive("read")).toThrow("Simulated crash at read.");

    const tripped = new CrashSwitch();
    expect(() => tripped.trip("site")).toThrow(SimulatedCrash);
    expect(tripped.dead).toBe(true);
    expect(tripped.count).toBe(0);

    const killed = new CrashSwitch();
    killed.kill("stuck");
    expect(killed.dead).toBe(true);
    expect(SimulatedCrash.is(killed.signal.reason)).toBe(true);
    killed.kill("again");
    expect(killed.crashedAt).toBe("stuck");
  });
});
