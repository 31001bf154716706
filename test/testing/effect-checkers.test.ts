import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  committed,
  compensated,
  createRunner,
  defineSaga,
  MemorySagaLog,
  notCommitted,
  StoreError,
} from "../../src/index.js";
import {
  checkInvariants,
  createMemoryStore,
  effectsMatchLog,
  FaultInjector,
  type FaultPlan,
  loadSagas,
  type MemoryStore,
  noDoubleEffect,
  VirtualClock,
  withFaults,
} from "../../src/testing/index.js";

const input = z.object({ orderId: z.string() });
const held = z.object({ version: z.number() });

/** The first write of the hold lands 5 s after its 1 s deadline. */
const LATE_HOLD: FaultPlan = {
  seed: 3,
  rules: [{ site: "orders.handle.put", kind: "late_landing", calls: [1], landingMs: 5_000 }],
};

/**
 * A hold (compensatable, retried once) whose write names the attempt that made it, then a payment
 * the provider always refuses, so the hold is compensated.
 */
function holdThenRefusedPayment(orders: MemoryStore) {
  return defineSaga("hold-then-pay", { input })
    .step("hold", {
      store: orders,
      kind: "compensatable",
      output: held,
      retry: { attempts: 2, initialDelayMs: 10 },
      execute: async ({ input, key, attempt, handle }) => {
        const put = await handle.put(`hold:${input.orderId}`, { key, attempt }, "absent");
        if (put.affected === 1) return { version: put.version ?? 0 };
        throw new StoreError("conflict", `Hold ${input.orderId} is taken.`);
      },
      probe: async ({ input, key, handle }) => {
        const doc = await handle.get(`hold:${input.orderId}`);
        return (doc?.value as { key?: string } | undefined)?.key === key
          ? committed({ version: doc?.version ?? 0 })
          : notCommitted();
      },
      compensate: async ({ input, key, handle }) => {
        const doc = await handle.get(`hold:${input.orderId}`);
        if ((doc?.value as { key?: string } | undefined)?.key === key) {
          await handle.delete(`hold:${input.orderId}`, doc?.version);
        }
        return compensated();
      },
    })
    .step("pay", {
      store: orders,
      kind: "pivot",
      output: held,
      execute: async () => {
        throw new StoreError("not_committed", "the card was declined");
      },
      probe: async () => notCommitted(),
    })
    .build();
}

/**
 * Runs the saga once on a fresh world, waits for every late effect to land, and checks the two
 * effect invariants. `lie` makes the store claim an in-process fence while its late write lands
 * after its call has settled: a fence that lets the runner trust the probe too early.
 */
async function run(lie: boolean) {
  const clock = new VirtualClock();
  const injector = new FaultInjector(LATE_HOLD);
  const memory = createMemoryStore({ id: "orders", tier: "plain" });
  const log = new MemorySagaLog();
  let orders: MemoryStore;
  if (lie) {
    // Wrapped as a store that cannot close its attempts, so the late write outlives its call…
    const wrapped = withFaults({ ...memory, fence: { mode: "none" as const } }, injector, {
      clock,
    });
    // …then handed to the runner as one that can, so the runner believes the call's end.
    orders = { ...wrapped, fence: { mode: "in_process" as const } };
  } else {
    orders = withFaults(memory, injector, { clock });
  }
  const saga = injector.effects.trace(holdThenRefusedPayment(orders));
  const runner = createRunner({ clock, log, timeoutMs: 1_000 });
  await clock.settle(Promise.resolve(runner.run(saga, { orderId: "o-1" }, { sagaId: "saga-1" })));
  await clock.settle(injector.landed());
  const context = {
    world: {},
    log,
    sagas: await loadSagas(log),
    pass: 1,
    snapshot: "",
    previousSnapshot: undefined,
    effects: injector.effects,
  };
  return {
    status: context.sagas[0]?.record.status,
    hold: memory.snapshot()["hold:o-1"],
    effects: injector.effects.all,
    matches: await checkInvariants([effectsMatchLog()], context),
    doubles: await checkInvariants([noDoubleEffect()], context),
  };
}

describe("the effect checkers", () => {
  it("flag a write that landed after its step was compensated, and the retry it doubled, under a fence that trusts the probe too early", async () => {
    const broken = await run(true);
    // What the issue saw: the saga says compensated, and the late write is there.
    expect(broken.status).toBe("compensated");
    expect(broken.hold?.value).toMatchObject({ attempt: 1 });
    expect(broken.effects.filter((e) => e.late)).toHaveLength(1);
    expect(broken.matches.map((v) => v.message)).toEqual([
      'Step "hold" of saga "saga-1" (compensated) is compensated in the log, but its effect at orders.handle.put (execution 1, attempt 1, landed after its deadline) applied after its last compensation began, so nothing undid it.',
    ]);
    expect(broken.doubles).toHaveLength(1);
    expect(broken.doubles[0]?.message).toMatch(
      /^The effect of step "hold" of saga "saga-1" \(key "saga-1:hold"\) applied 2 times: first its effect at orders.handle.put \(execution \d+, attempt 2\); then its effect at orders.handle.put \(execution 1, attempt 1, landed after its deadline\)\.$/,
    );
  });

  it("pass the same late landing on the real memory store, whose fence waits for the call", async () => {
    const honest = await run(false);
    expect(honest.effects.filter((e) => e.late)).toHaveLength(1);
    expect(honest.status).toBe("compensated");
    expect(honest.hold).toBeUndefined();
    expect(honest.matches).toEqual([]);
    expect(honest.doubles).toEqual([]);
  });

  it("say so when given no effect ledger", async () => {
    const context = {
      world: {},
      log: new MemorySagaLog(),
      sagas: [],
      pass: 1,
      snapshot: "",
      previousSnapshot: undefined,
    };
    const found = await checkInvariants([effectsMatchLog(), noDoubleEffect()], context);
    expect(found.map((v) => v.invariant)).toEqual([
      "effects match the log",
      "no effect applied twice",
    ]);
    expect(found[0]?.message).toContain("was given no effect ledger");
  });
});
