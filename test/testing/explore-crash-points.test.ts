import { describe, expect, it } from "vitest";
import { z } from "zod";
import { committed, defineSaga, LockstepDefinitionError, notCommitted } from "../../src/index.js";
import {
  assertCrashPoints,
  type CrashExplorationReport,
  createMemoryStore,
  exploreCrashPoints,
  LockstepTestFailure,
  TestingErrorCode,
} from "../../src/testing/index.js";
import {
  captureHold,
  checkoutInvariants,
  checkoutSaga,
  checkoutWorld,
  type Flaw,
  INPUT,
  ORDERS_REFUSE,
  TIERS,
} from "./support/checkout.js";

const READS = ["get", "list"];

function scenario(tier: (typeof TIERS)[number], flaw?: Flaw) {
  return {
    setup: () => checkoutWorld(tier),
    saga: (world: ReturnType<typeof checkoutWorld>) => checkoutSaga(world, flaw),
    input: INPUT,
    invariants: checkoutInvariants(),
    reads: READS,
  };
}

function summary(report: CrashExplorationReport): string {
  return `${report.points} run points (${report.reached} reached), ${report.recoveryPoints} recovery points (${report.recoveryReached} reached, ${report.deduplicated} run points deduplicated), ${report.runs} runs, outcomes ${JSON.stringify(report.outcomes)}`;
}

/** The store writes of each path, before and after each: what the run passes, however the log batches its records. */
function storeWrites(tier: (typeof TIERS)[number], path: "happy" | "compensating"): string[] {
  const atomic = { transactional: "transaction", batch: "batch", plain: "handle.put" }[tier];
  const both = (site: string) => [`before ${site}`, `after ${site}`];
  const funds = both(`funds:${tier}.${atomic}`);
  const stock = both(`stock:${tier}.${atomic}`);
  const order = both(`orders:${tier}.handle.put`);
  return path === "happy"
    ? [...funds, ...stock, ...order, ...order]
    : // The refused order write fails before its effect, so it has no "after".
      [...funds, ...stock, `before orders:${tier}.handle.put`, ...stock, ...funds];
}

/**
 * Checks the dry run's boundaries: the store writes in order, each after a durable log write,
 * except the writes numbered in `rerunByKey` (0-based, among store writes): those of a retriable
 * step without a probe, which a crash before its outcome is durable re-executes by its key with or
 * without an intent, so its intent rides with its outcome.
 */
function expectWriteAhead(
  report: CrashExplorationReport,
  expected: readonly string[],
  rerunByKey: readonly number[] = [],
): void {
  const stores = report.boundaries.filter((b) => !b.includes(" log."));
  expect(stores).toEqual(expected);
  let write = -1;
  report.boundaries.forEach((b, i) => {
    if (b.startsWith("before log.")) expect(report.boundaries[i + 1]).toBe(`after ${b.slice(7)}`);
    if (!b.includes(" log.") && b.startsWith("before ")) {
      write++;
      const previous = report.boundaries[i - 1];
      if (rerunByKey.includes(write)) {
        expect(previous, `${b} has no intent of its own`).not.toMatch(/^after log\./);
        return;
      }
      expect(previous, `${b} must follow a durable log write`).toMatch(/^after log\./);
    }
  });
  const logWrites = (report.boundaries.length - stores.length) / 2;
  // A write-ahead record before each store write but those re-run by key, and the saga's end.
  expect(logWrites).toBeGreaterThanOrEqual(
    stores.filter((b) => b.startsWith("before ")).length - rerunByKey.length + 1,
  );
}

describe.each(TIERS)("crash points of the %s checkout", (tier) => {
  it("happy path: every point and every point of the recovery after it keeps the invariants", async () => {
    const report = await assertCrashPoints(scenario(tier));
    console.log(`explored ${tier} checkout, happy path: ${summary(report)}`);
    // The fourth store write is notify's, a retriable step without a probe.
    expectWriteAhead(report, storeWrites(tier, "happy"), [3]);
    expect(report.points).toBe(report.boundaries.length);
    expect(report.reached).toBe(report.points);
    expect(report.recoveryPoints).toBeGreaterThan(report.points);
    expect(report.recoveryReached).toBe(report.recoveryPoints);
    expect(report.runs).toBe(1 + report.points + report.recoveryPoints);
    expect(report.violations).toEqual([]);
    // Crashes before the pivot unwind, crashes after it roll forward: both paths were recovered.
    expect(report.outcomes.completed ?? 0).toBeGreaterThan(0);
    expect(report.outcomes.compensated ?? 0).toBeGreaterThan(0);
  });

  it("compensating path: crashes during compensation are recovered too", async () => {
    const report = await assertCrashPoints({ ...scenario(tier), faults: ORDERS_REFUSE });
    console.log(`explored ${tier} checkout, compensating path: ${summary(report)}`);
    expectWriteAhead(report, storeWrites(tier, "compensating"));
    expect(report.points).toBe(report.boundaries.length);
    expect(report.reached).toBe(report.points);
    expect(report.recoveryReached).toBe(report.recoveryPoints);
    expect(report.runs).toBe(1 + report.points + report.recoveryPoints);
    expect(Object.keys(report.outcomes).sort()).toEqual(["compensated", "none"]);
  });
});

describe("broken sagas are caught, with a schedule that replays the violation", () => {
  it("a compensation driven by a probe that always says not committed", async () => {
    const result = await exploreCrashPoints(scenario("batch", "lying_probe"));
    expect(result.isErr()).toBe(true);
    const error = result._unsafeUnwrapErr();
    console.log(`lying probe: ${error.message.split("\n").slice(0, 2).join(" ")}`);
    expect(error.code).toBe(TestingErrorCode.InvariantViolated);
    const violation = error.report.violations.find((v) => v.invariant === "all-or-nothing");
    expect(violation?.schedule.boundary).toBe("after orders:batch.handle.put");
    expect(violation?.message).toMatch(/\(compensated\) left a partial state: present in order/);
    expect(error.message).toContain(`only: [{"point":${violation?.schedule.point}`);
    const replay = await exploreCrashPoints({
      ...scenario("batch", "lying_probe"),
      only: [violation?.schedule as NonNullable<typeof violation>["schedule"]],
    });
    const again = replay._unsafeUnwrapErr().report;
    expect(again.runs).toBe(violation?.schedule.recoveryPoint === undefined ? 2 : 3);
    expect(again.violations.map((v) => v.message)).toContain(violation?.message);
    // The correct saga passes the very same schedule.
    const fixed = await exploreCrashPoints({
      ...scenario("batch"),
      only: [violation?.schedule as NonNullable<typeof violation>["schedule"]],
    });
    expect(fixed.isOk()).toBe(true);
  });

  it("a compensation without a guard, undoing a hold another writer captured", async () => {
    const result = await exploreCrashPoints({
      ...scenario("plain", "unguarded_compensation"),
      interfere: captureHold,
    });
    const error = result._unsafeUnwrapErr();
    console.log(`unguarded compensation: ${error.message.split("\n").slice(0, 2).join(" ")}`);
    const violation = error.report.violations.find(
      (v) => v.invariant === "credits and widgets are conserved",
    );
    expect(violation?.message).toBe("The credits add up to 130, not 100.");
    const replay = await exploreCrashPoints({
      ...scenario("plain", "unguarded_compensation"),
      interfere: captureHold,
      only: [violation?.schedule as NonNullable<typeof violation>["schedule"]],
    });
    expect(replay._unsafeUnwrapErr().report.violations.map((v) => v.message)).toContain(
      violation?.message,
    );
    // Guarded, the same interference ends in needs_attention with nothing clobbered.
    const guarded = await assertCrashPoints({ ...scenario("plain"), interfere: captureHold });
    expect(guarded.outcomes.needs_attention ?? 0).toBeGreaterThan(0);
  });

  it("a retriable step without an idempotency key, duplicated when recovery runs it again", async () => {
    const result = await exploreCrashPoints(scenario("transactional", "unkeyed_notify"));
    const error = result._unsafeUnwrapErr();
    console.log(`unkeyed retriable step: ${error.message.split("\n").slice(0, 2).join(" ")}`);
    const violation = error.report.violations.find((v) => v.invariant === "one notice per order");
    expect(violation?.message).toBe("Order o-1 has 2 notices.");
    expect(violation?.schedule.boundary).toBe("after orders:transactional.handle.put");
    const replay = await exploreCrashPoints({
      ...scenario("transactional", "unkeyed_notify"),
      only: [violation?.schedule as NonNullable<typeof violation>["schedule"]],
    });
    expect(replay._unsafeUnwrapErr().report.violations.map((v) => v.message)).toContain(
      violation?.message,
    );
  });
});

describe("recovery idempotency", () => {
  it("compares the snapshot the world provides after each pass, and names a pass that changed it", async () => {
    let reads = 0;
    const result = await exploreCrashPoints({
      ...scenario("plain"),
      // A store whose state drifts on its own: every read of it differs from the last.
      setup: () => ({ ...checkoutWorld("plain"), snapshot: () => ({ drift: ++reads }) }),
      crashRecovery: false,
      only: [{ point: 6 }],
    });
    const violations = result._unsafeUnwrapErr().report.violations;
    // The run without a crash is always explored too: both schedules saw the drift at pass 2.
    expect(violations.map((v) => `${v.schedule.point}: ${v.invariant} @${v.pass}`)).toEqual([
      "0: recovery is idempotent @2",
      "6: recovery is idempotent @2",
    ]);
    expect(violations[0]?.message).toMatch(
      /^Recovery pass 2 changed durable state that pass 1 had left/,
    );
  });
});

describe("an exploration that shows nothing fails", () => {
  it("fails when the run passes no durable boundary", async () => {
    const result = await exploreCrashPoints({
      ...scenario("plain"),
      input: { orderId: "o-1", amount: -5, units: 1 },
    });
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(TestingErrorCode.NoCrashPoints);
    expect(error.report.points).toBe(0);
    expect(error.message).toMatch(/found no durable boundary/);
    await expect(
      assertCrashPoints({ ...scenario("plain"), input: { orderId: "o-1", amount: -5, units: 1 } }),
    ).rejects.toSatisfy(LockstepTestFailure.is);
  });

  it("fails when a point is not reached because the saga does not run the same way twice", async () => {
    let runs = 0;
    const output = z.object({ n: z.number() });
    const result = await exploreCrashPoints({
      setup: () => ({ stores: { box: createMemoryStore({ id: "box", tier: "plain" }) } }),
      saga: (world) =>
        defineSaga("flaky", { input: z.object({}) })
          .step("write", {
            store: world.stores.box,
            kind: "pivot",
            output,
            execute: async ({ handle }) => {
              // Only the very first run writes twice: every later run passes fewer boundaries.
              runs++;
              if (runs === 1) await handle.put("extra", 1);
              await handle.put("box", 1);
              return { n: 1 };
            },
            probe: async ({ handle }) =>
              (await handle.get("box")) === undefined ? notCommitted() : committed({ n: 1 }),
          })
          .build(),
      input: {},
      crashRecovery: false,
      standardInvariants: false,
    });
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(TestingErrorCode.UnreachedCrashPoints);
    expect(error.report.unreached.length).toBeGreaterThan(0);
    expect(error.message).toMatch(/not deterministic/);
  });

  it("refuses a saga built from stores other than the ones it was given", async () => {
    const stray = createMemoryStore({ id: "stray", tier: "plain" });
    const run = exploreCrashPoints({
      ...scenario("plain"),
      saga: () =>
        checkoutSaga({
          ...checkoutWorld("plain"),
          stores: { funds: stray, stock: stray, orders: stray },
        }),
    });
    await expect(Promise.resolve(run)).rejects.toThrow(LockstepDefinitionError);
    expect(() => exploreCrashPoints({ ...scenario("plain"), recoverTimes: 0 })).toThrow(
      "Expected `exploreCrashPoints: recoverTimes` to be an integer >= 1, got `0` (number).",
    );
  });
});
