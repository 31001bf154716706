import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LockstepDefinitionError, sleep } from "../../src/index.js";
import {
  checkFaultPlan,
  FaultKind,
  faultPlanArbitrary,
  raceSagas,
  type ScheduleActor,
} from "../../src/testing/index.js";
import {
  type CheckoutWorld,
  INPUT,
  ORDERS_REFUSE,
  simulatedCheckout,
  TIERS,
} from "./support/checkout.js";
import { ledgerOf } from "./support/ledger.js";

/** Another writer: a settlement job capturing order o-1's hold, a few times, a little apart. */
const settlementJob: ScheduleActor<CheckoutWorld> = async (world, { clock }) => {
  const scope = { signal: new AbortController().signal, deadline: Number.MAX_SAFE_INTEGER };
  for (let i = 0; i < 4; i++) {
    await ledgerOf(world.stores.funds).capture(INPUT.orderId, "merchant", scope);
    await sleep(clock, 3);
  }
};

describe("faultPlanArbitrary", () => {
  it("generates valid plans within the given sites and kinds, shrinking toward none", () => {
    const sites = ["log.*", "orders:*.handle.put"];
    const kinds = [FaultKind.FailAfter, FaultKind.Crash];
    let checked = 0;
    fc.assert(
      fc.property(faultPlanArbitrary(fc, { sites, kinds, maxRules: 2, maxTimes: 4 }), (plan) => {
        checked++;
        expect(checkFaultPlan(plan)).toEqual(plan);
        expect(plan.rules.length).toBeLessThanOrEqual(2);
        for (const rule of plan.rules) {
          expect(sites).toContain(rule.site);
          for (const kind of rule.kind as readonly string[]) expect(kinds).toContain(kind);
          expect(rule.times).toBeLessThanOrEqual(4);
        }
      }),
      { numRuns: 300, seed: 5 },
    );
    expect(checked).toBe(300);
    const failing = fc.check(
      fc.property(faultPlanArbitrary(fc), (plan) => plan.rules.length === 0),
      { seed: 5 },
    );
    expect(failing.failed).toBe(true);
    expect(failing.counterexample?.[0].rules).toHaveLength(1);
  });

  it("names a bad option", () => {
    expect(() => faultPlanArbitrary(fc, { kinds: [] })).toThrow(LockstepDefinitionError);
    expect(() => faultPlanArbitrary(fc, { maxRules: -1 })).toThrow(
      "Expected `faultPlanArbitrary: maxRules` to be an integer >= 0, got `-1` (number).",
    );
  });
});

describe.each(TIERS)("runs and recoverers of the %s checkout racing under fc.scheduler", (tier) => {
  it("keep every invariant whatever the interleaving and the faults", async () => {
    let races = 0;
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), faultPlanArbitrary(fc), async (s, faults) => {
        races++;
        const race = await raceSagas(s, { ...simulatedCheckout(tier), faults, racers: 2 });
        expect(race.violations).toEqual([]);
        // Every run's saga is in the log, but for a run whose process died creating it.
        const unborn = race.faults.filter((f) => f.kind === "crash" && f.site === "log.create");
        expect(race.statuses).toHaveLength(2 - unborn.length);
      }),
      { numRuns: 100, seed: 2026 },
    );
    console.log(`raced the ${tier} checkout: ${races} interleavings, 2 runs and 2 recoverers each`);
    expect(races).toBe(100);
  });
});

describe("a race finds a compensation without a guard", () => {
  it("reports the interleaving with a seed and path that replay it", async () => {
    const race = (flaw?: "unguarded_compensation") =>
      fc.asyncProperty(fc.scheduler(), async (s) => {
        const result = await raceSagas(s, {
          ...simulatedCheckout("batch", flaw),
          input: INPUT,
          runs: 1,
          faults: ORDERS_REFUSE,
          actors: [settlementJob],
        });
        const found = result.violations.map((v) => `[${v.invariant}] ${v.message}`);
        if (found.length > 0) throw new Error(found.join(" "));
      });
    const found = await fc.check(race("unguarded_compensation"), { numRuns: 300, seed: 11 });
    expect(found.failed).toBe(true);
    console.log(
      `unguarded compensation under fc.scheduler: failed after ${found.numRuns} runs, seed ${found.seed}, path ${found.counterexamplePath}`,
    );
    expect(String(found.errorInstance)).toMatch(/credits add up to 130/);
    const replay = await fc.check(race("unguarded_compensation"), {
      seed: found.seed,
      path: found.counterexamplePath ?? "",
    });
    expect(replay.failed).toBe(true);
    expect(replay.numRuns).toBe(1);
    const guarded = await fc.check(race(), { numRuns: 300, seed: 11 });
    expect(guarded.failed).toBe(false);
    expect(guarded.numRuns).toBe(300);
  });
});
