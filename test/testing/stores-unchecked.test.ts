import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { committed, compensated, defineSaga, notCommitted, StoreError } from "../../src/index.js";
import {
  allOrNothing,
  assertCrashPoints,
  assertSimulation,
  createMemoryStore,
  defineInvariant,
  exploreCrashPoints,
  LockstepTestFailure,
  type MemoryStore,
  raceSagas,
  simulate,
  standardInvariants,
  TestingErrorCode,
} from "../../src/testing/index.js";

interface World {
  readonly stores: { readonly funds: MemoryStore; readonly orders: MemoryStore };
}

const input = z.object({ orderId: z.string() });
const held = z.object({ version: z.number() });

function world(): World {
  return {
    stores: {
      funds: createMemoryStore({ id: "funds", tier: "plain" }),
      orders: createMemoryStore({ id: "orders", tier: "plain" }),
    },
  };
}

/**
 * A hold, then an order the orders store always refuses, so every run compensates the hold. The
 * flaw: the hold's compensation says `compensated()` without writing anything.
 */
function doNothingSaga({ stores }: World) {
  return defineSaga("do-nothing-compensation", { input })
    .step("hold", {
      store: stores.funds,
      kind: "compensatable",
      output: held,
      execute: async ({ input, key, handle }) => {
        const put = await handle.put(`hold:${input.orderId}`, { key }, "absent");
        if (put.affected === 1) return { version: put.version ?? 0 };
        const doc = await handle.get(`hold:${input.orderId}`);
        if ((doc?.value as { key?: string } | undefined)?.key === key)
          return { version: doc?.version ?? 0 };
        throw new StoreError("conflict", `Hold ${input.orderId} belongs to another saga.`);
      },
      probe: async ({ input, key, handle }) => {
        const doc = await handle.get(`hold:${input.orderId}`);
        return (doc?.value as { key?: string } | undefined)?.key === key
          ? committed({ version: doc?.version ?? 0 })
          : notCommitted();
      },
      compensate: async () => compensated(),
    })
    .step("order", {
      store: stores.orders,
      kind: "pivot",
      output: held,
      execute: async () => {
        throw new StoreError("not_committed", "orders are closed");
      },
      probe: async () => notCommitted(),
    })
    .build();
}

/** The default configuration: no invariants of the user's own. */
const scenario = {
  setup: world,
  saga: doNothingSaga,
  input: { orderId: "o-1" },
  reads: ["get", "list"],
};

const effects = allOrNothing<World>({
  hold: (w, saga) => w.stores.funds.snapshot()[`hold:${orderOf(saga)}`] !== undefined,
  order: (w, saga) => w.stores.orders.snapshot()[`order:${orderOf(saga)}`] !== undefined,
});

function orderOf(saga: { record: { input: unknown } } | undefined): string {
  return (saga?.record.input as { orderId?: string } | undefined)?.orderId ?? "o-1";
}

describe("a run whose invariants read only the log does not pass", () => {
  it("exploreCrashPoints fails a do-nothing compensation in its default configuration, naming what is missing", async () => {
    const result = await exploreCrashPoints(scenario);
    expect(result.isErr(), "the do-nothing compensation passed every crash point unchecked").toBe(
      true,
    );
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(TestingErrorCode.StoresUnchecked);
    expect(error.report.storesChecked).toBe(false);
    expect(error.report.violations).toEqual([]);
    expect(error.report.points).toBeGreaterThan(0);
    expect(error.message).toMatch(/no invariant read the stores/);
    expect(error.message).toMatch(/allOrNothing/);
    expect(error.message).toContain('"funds", "orders"');
    expect(error.report.warnings).toEqual([error.message]);
    await expect(assertCrashPoints(scenario)).rejects.toSatisfy(
      (e: unknown) => LockstepTestFailure.is(e) && e.code === TestingErrorCode.StoresUnchecked,
    );
  });

  it("simulate fails it too, over 300 schedules", async () => {
    const result = await simulate({ ...scenario, schedules: 300 });
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(TestingErrorCode.StoresUnchecked);
    expect(error.report.schedules).toBe(300);
    expect(error.report.storesChecked).toBe(false);
    expect(error.message).toMatch(/no invariant read the stores/);
    await expect(assertSimulation({ ...scenario, schedules: 20 })).rejects.toSatisfy(
      (e: unknown) => LockstepTestFailure.is(e) && e.code === TestingErrorCode.StoresUnchecked,
    );
  });

  it("raceSagas reports it as a violation", async () => {
    let races = 0;
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), async (s) => {
        races++;
        const race = await raceSagas(s, scenario);
        expect(race.storesChecked).toBe(false);
        expect(race.violations.map((v) => v.invariant)).toEqual(["an invariant reads the stores"]);
      }),
      { numRuns: 5, seed: 1 },
    );
    expect(races).toBe(5);
  });

  it("with a store-reading invariant, the do-nothing compensation is caught at its crash points", async () => {
    const result = await exploreCrashPoints({ ...scenario, invariants: [effects] });
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(TestingErrorCode.InvariantViolated);
    expect(error.report.storesChecked).toBe(true);
    const violation = error.report.violations.find((v) => v.invariant === "all-or-nothing");
    expect(violation?.message).toMatch(
      /^Saga "saga-1" \(compensated\) left a partial state: present in hold, absent from order\.$/,
    );
    const simulated = await simulate({ ...scenario, invariants: [effects], schedules: 50 });
    expect(simulated._unsafeUnwrapErr().report.violations[0]?.invariant).toBe("all-or-nothing");
  });

  it("counts an invariant that declares it reads the stores, or that reads the world without declaring", async () => {
    const declared = defineInvariant<World>("holds are few", () => undefined, { reads: "stores" });
    const observed = defineInvariant<World>("no stray orders", ({ world }) =>
      Object.keys(world.stores.orders.snapshot()).length > 0 ? "an order exists" : undefined,
    );
    for (const invariant of [declared, observed]) {
      const report = await assertCrashPoints({
        ...scenario,
        saga: (w: World) => doNothingSaga(w),
        invariants: [invariant],
        crashRecovery: false,
      });
      expect(report.storesChecked, invariant.name).toBe(true);
      expect(report.warnings).toEqual([]);
    }
    // Declaring `reads: "log"` is believed even when the check looks at the world.
    const logOnly = defineInvariant<World>("log only", ({ world }) => void world, { reads: "log" });
    const result = await exploreCrashPoints({ ...scenario, invariants: [logOnly] });
    expect(result._unsafeUnwrapErr().code).toBe(TestingErrorCode.StoresUnchecked);
    expect(standardInvariants().map((i) => i.reads)).toEqual(["log", "log", "log", "log"]);
    expect(effects.reads).toBe("stores");
  });

  it("passes a log-only run only when asked to, and still says so in the report", async () => {
    const report = await assertCrashPoints({ ...scenario, allowUncheckedStores: true });
    expect(report.storesChecked).toBe(false);
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings[0]).toMatch(/no invariant read the stores/);
    const simulated = await assertSimulation({
      ...scenario,
      allowUncheckedStores: true,
      schedules: 10,
    });
    expect(simulated.storesChecked).toBe(false);
    expect(simulated.warnings[0]).toMatch(/no invariant read the stores/);
  });
});
