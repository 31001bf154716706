import { expect } from "vitest";
import { assertCrashPoints, type MemoryTier } from "../../../src/testing/index.js";
import { checkoutInvariants, checkoutSaga, checkoutWorld, INPUT } from "./checkout.js";

/**
 * The store calls of the checkout's dry run on each tier, reads and statements inside transactions
 * included: what the late mode makes late, each once as a late landing and once as a slow commit.
 */
export const STORE_CALLS: Readonly<Record<MemoryTier, number>> = {
  transactional: 12,
  batch: 8,
  plain: 6,
};

/**
 * Explores the checkout on one tier in late mode: every store call of the dry run made late and
 * slow to commit in turn, then crashed from that call on, and checks that every invariant held.
 */
export async function exploreLateCheckout(tier: MemoryTier): Promise<void> {
  const report = await assertCrashPoints({
    setup: () => checkoutWorld(tier),
    saga: (world: ReturnType<typeof checkoutWorld>) => checkoutSaga(world),
    input: INPUT,
    invariants: checkoutInvariants(),
    reads: ["get", "list"],
    lateFaults: true,
    // Crashes inside recovery are explored by the crash-point suite; here the late calls.
    crashRecovery: false,
  });
  console.log(
    `late calls in the ${tier} checkout: ${report.storeCalls} store calls, ${report.lateRuns} late runs, ${report.latePoints} late crash points (${report.lateReached} reached), ${report.runs} runs, outcomes ${JSON.stringify(report.outcomes)}`,
  );
  expect(report.storeCalls).toBe(STORE_CALLS[tier]);
  expect(report.lateRuns).toBe(2 * STORE_CALLS[tier]);
  expect(report.latePoints).toBeGreaterThan(report.lateRuns);
  expect(report.lateReached).toBe(report.latePoints);
  expect(report.reached).toBe(report.points);
  expect(report.unreached).toEqual([]);
  expect(report.violations).toEqual([]);
  expect(report.runs).toBe(1 + report.points + report.lateRuns + report.latePoints);
  // Late calls both rolled sagas forward and unwound them.
  expect(report.outcomes.completed ?? 0).toBeGreaterThan(0);
  expect(report.outcomes.compensated ?? 0).toBeGreaterThan(0);
}
