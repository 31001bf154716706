import fc from "fast-check";
import { describe, expectTypeOf, it } from "vitest";
import {
  type FastCheckArbitrary,
  type FaultPlan,
  fastCheckScheduler,
  faultPlanArbitrary,
  type raceSagas,
} from "../../src/testing/index.js";

// The testing kit describes fast-check's types structurally (fast-check is an optional peer); with
// fast-check installed, its values must fit them and what the kit returns must fit fast-check.
describe("the testing kit's fast-check helpers, typed without fast-check's types", () => {
  it("builds an arbitrary of fault plans that fast-check's properties take as one", () => {
    const plans = faultPlanArbitrary(fc, { sites: ["log.*"] });
    expectTypeOf(plans).toEqualTypeOf<FastCheckArbitrary<FaultPlan>>();
    fc.assert(
      fc.property(plans, (plan) => {
        expectTypeOf(plan).toEqualTypeOf<FaultPlan>();
        return plan.rules.length >= 0;
      }),
    );
    expectTypeOf(fc.sample(plans, 1)).toEqualTypeOf<FaultPlan[]>();
    expectTypeOf(plans).toExtend<fc.Arbitrary<FaultPlan>>();
  });

  it("maps, filters and chains like any arbitrary", () => {
    const seeds = faultPlanArbitrary(fc).map((plan) => plan.seed);
    fc.assert(
      fc.property(seeds, (seed) => {
        expectTypeOf(seed).toEqualTypeOf<number>();
      }),
    );
    const quiet = faultPlanArbitrary(fc).filter((plan) => plan.rules.length === 0);
    expectTypeOf(quiet).toEqualTypeOf<FastCheckArbitrary<FaultPlan>>();
    const chained = faultPlanArbitrary(fc).chain((plan) => fc.constant(plan.rules.length));
    expectTypeOf(chained).toEqualTypeOf<FastCheckArbitrary<number>>();
    expectTypeOf(fc.integer().chain(() => faultPlanArbitrary(fc))).toEqualTypeOf<
      fc.Arbitrary<FaultPlan>
    >();
  });

  it("takes fast-check's scheduler", () => {
    void fc.asyncProperty(fc.scheduler(), faultPlanArbitrary(fc), async (s, faults) => {
      expectTypeOf(faults).toEqualTypeOf<FaultPlan>();
      expectTypeOf(fastCheckScheduler).toBeCallableWith(s);
      expectTypeOf(s).toExtend<Parameters<typeof raceSagas>[0]>();
    });
  });
});
