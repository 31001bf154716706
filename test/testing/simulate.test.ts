import { describe, expect, it } from "vitest";
import { LockstepDefinitionError, sleep } from "../../src/index.js";
import {
  assertSimulation,
  LockstepTestFailure,
  randomFaultPlan,
  type ScheduleActor,
  simulate,
  TestingErrorCode,
} from "../../src/testing/index.js";
import { type CheckoutWorld, INPUT, simulatedCheckout } from "./support/checkout.js";
import { ledgerOf } from "./support/ledger.js";

/** Another writer: a settlement job that keeps trying to capture order o-1's hold. */
const settlementJob: ScheduleActor<CheckoutWorld> = async (world, { clock }) => {
  const scope = { signal: new AbortController().signal, deadline: Number.MAX_SAFE_INTEGER };
  for (let i = 0; i < 20; i++) {
    await sleep(clock, 250);
    await ledgerOf(world.stores.funds).capture(INPUT.orderId, "merchant", scope);
  }
};

describe("simulate catches broken sagas and names the seed that replays each violation", () => {
  it("a probe that always says not committed: the pivot's lost response is compensated", async () => {
    const result = await simulate({ ...simulatedCheckout("plain", "lying_probe"), schedules: 400 });
    const error = result._unsafeUnwrapErr();
    console.log(`lying probe under random faults: ${error.message.split("\n")[0]}`);
    expect(error.code).toBe(TestingErrorCode.InvariantViolated);
    const violation = error.report.violations[0];
    expect(violation?.invariant).toBe("all-or-nothing");
    expect(error.message).toContain(`seed ${violation?.seed}`);
    const replay = await simulate({
      ...simulatedCheckout("plain", "lying_probe"),
      seeds: [violation?.seed as number],
    });
    const again = replay._unsafeUnwrapErr().report;
    expect(again.schedules).toBe(1);
    expect(again.violations.map((v) => v.message)).toEqual(
      error.report.violations.filter((v) => v.seed === violation?.seed).map((v) => v.message),
    );
    expect(again.violations[0]?.faults).toEqual(violation?.faults);
  });

  it("a retriable step without an idempotency key: a retry after a lost response duplicates", async () => {
    const result = await simulate({
      ...simulatedCheckout("batch", "unkeyed_notify"),
      schedules: 200,
    });
    const error = result._unsafeUnwrapErr();
    console.log(`unkeyed retriable step under random faults: ${error.message.split("\n")[0]}`);
    const violation = error.report.violations.find((v) => v.invariant === "one notice per order");
    expect(violation?.message).toMatch(/^Order o-1 has [2-9] notices\.$/);
    const replay = await simulate({
      ...simulatedCheckout("batch", "unkeyed_notify"),
      seeds: [violation?.seed as number],
    });
    expect(replay._unsafeUnwrapErr().report.violations.map((v) => v.message)).toContain(
      violation?.message,
    );
  });

  it("a compensation without a guard: it undoes a hold a concurrent writer captured", async () => {
    const options = {
      ...simulatedCheckout("transactional", "unguarded_compensation"),
      actors: [settlementJob],
    };
    const error = (await simulate({ ...options, schedules: 300 }))._unsafeUnwrapErr();
    console.log(`unguarded compensation racing a writer: ${error.message.split("\n")[0]}`);
    const violation = error.report.violations.find(
      (v) => v.invariant === "credits and widgets are conserved",
    );
    expect(violation?.message).toMatch(/^The credits add up to 1[3-9]0, not 100\.$/);
    const replay = await simulate({ ...options, seeds: [violation?.seed as number] });
    expect(replay._unsafeUnwrapErr().report.violations.map((v) => v.message)).toContain(
      violation?.message,
    );
    // The guarded saga keeps every invariant against the same writer and the same schedules.
    const guarded = await assertSimulation({
      ...simulatedCheckout("transactional"),
      actors: [settlementJob],
      schedules: 300,
    });
    expect(guarded.violations).toEqual([]);
    expect(guarded.outcomes.needs_attention ?? 0).toBeGreaterThan(0);
  });
});

describe("simulate", () => {
  it("replays a run exactly from its seed", async () => {
    const options = { ...simulatedCheckout("plain"), seeds: [11, 12, 13, 14, 15] };
    const first = (await simulate(options))._unsafeUnwrap();
    const second = (await simulate(options))._unsafeUnwrap();
    expect(second).toEqual(first);
    expect(first.schedules).toBe(5);
    const other = (await simulate({ ...options, seeds: [16, 17, 18, 19, 20] }))._unsafeUnwrap();
    expect(other.faultKinds).not.toEqual(first.faultKinds);
  });

  it("takes a custom fault plan per seed", async () => {
    const report = await assertSimulation({
      ...simulatedCheckout("batch"),
      schedules: 50,
      faults: (seed) => randomFaultPlan(seed, { site: "log.*", kinds: ["fail_before"] }),
    });
    expect(Object.keys(report.faultKinds)).toEqual(["fail_before"]);
    expect(report.faultsFired).toBeGreaterThan(0);
  });

  it("throws a LockstepTestFailure from the assert variant", async () => {
    await expect(
      assertSimulation({ ...simulatedCheckout("plain", "unkeyed_notify"), schedules: 200 }),
    ).rejects.toSatisfy(
      (e: unknown) => LockstepTestFailure.is(e) && /replay one with `seeds: \[/.test(e.message),
    );
  });

  it("names a bad option and its type", () => {
    expect(() => simulate({ ...simulatedCheckout("plain"), schedules: 0 })).toThrow(
      new LockstepDefinitionError(
        "Expected `simulate: schedules` to be an integer >= 1, got `0` (number).",
      ),
    );
    expect(() => simulate({ ...simulatedCheckout("plain"), seeds: [1.5] })).toThrow(
      "Expected `simulate: seeds[0]` to be an integer from 0 to 4294967295, got `1.5` (number).",
    );
    expect(() => simulate({ ...simulatedCheckout("plain"), actors: ["x" as never] })).toThrow(
      "Expected `actors` of simulate to be a list of functions, got `x` (array).",
    );
  });
});
