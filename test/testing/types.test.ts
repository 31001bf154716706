import { MemorySagaLog, type SagaRawInput } from "lockstep";
import {
  type CrashExplorationReport,
  createMemoryStore,
  exploreCrashPoints,
  type FaultPlan,
  type MemoryStore,
  NO_FAULTS,
  simulate,
  withFaults,
} from "lockstep/testing";
import { describe, expectTypeOf, it } from "vitest";
import { type transferSaga, transferScenario } from "../../examples/testing/transfer.js";

describe("the kit's types", () => {
  it("keeps the adapter's type through withFaults and checks inputs against the saga", () => {
    const store = withFaults(createMemoryStore({ tier: "plain" }), NO_FAULTS);
    expectTypeOf(store).toEqualTypeOf<MemoryStore>();
    expectTypeOf(withFaults(new MemorySagaLog(), NO_FAULTS)).toEqualTypeOf<MemorySagaLog>();
    expectTypeOf<SagaRawInput<ReturnType<typeof transferSaga>>>().toEqualTypeOf<{
      transferId: string;
      amount: number;
    }>();
    expectTypeOf(exploreCrashPoints(transferScenario)).resolves.toMatchTypeOf<{
      isOk(): boolean;
    }>();
    const neverCalled = () => {
      // @ts-expect-error the input must satisfy the saga's schema
      exploreCrashPoints({ ...transferScenario, input: { transferId: 1 } });
      // @ts-expect-error an input function must return the saga's input
      simulate({ ...transferScenario, input: () => ({ nope: true }) });
      // @ts-expect-error a fault rule needs a kind
      const plan: FaultPlan = { seed: 1, rules: [{ site: "*" }] };
      return plan;
    };
    expectTypeOf(neverCalled).toBeFunction();
    expectTypeOf<CrashExplorationReport["violations"][number]["schedule"]>().toHaveProperty(
      "point",
    );
  });
});
