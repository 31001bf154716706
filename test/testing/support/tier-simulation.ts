import { expect } from "vitest";
import { assertSimulation, FAULT_KINDS, type MemoryTier } from "../../../src/testing/index.js";
import { PARTS_PER_TIER, SCHEDULES_PER_TIER, simulatedCheckout, TIERS } from "./checkout.js";

/**
 * Runs part `part` (from 1) of a tier's seeded schedules of the checkout, each part from its own
 * seed, and checks what every part must show: no violation, every fault kind fired many times, late
 * landings and slow commits in many schedules, crashes, and both ways a saga ends.
 */
export async function simulateTierPart(tier: MemoryTier, part: number): Promise<void> {
  const schedules = Math.ceil(SCHEDULES_PER_TIER / PARTS_PER_TIER);
  const report = await assertSimulation({
    ...simulatedCheckout(tier),
    schedules,
    seed: 2026 + part - 1,
  });
  console.log(
    `simulated ${tier} checkout, part ${part} of ${PARTS_PER_TIER}: ${report.schedules} schedules, ${report.lateSchedules} with a late landing or slow commit, ${report.faultsFired} faults fired ${JSON.stringify(report.faultKinds)}, ${report.crashed} with a crashed or abandoned process, outcomes ${JSON.stringify(report.outcomes)}, ${report.violations.length} violations`,
  );
  expect(report.schedules).toBe(schedules);
  // The tiers' parts together run at least 10,000 schedules per CI run.
  expect(schedules * PARTS_PER_TIER * TIERS.length).toBeGreaterThanOrEqual(10_000);
  expect(report.violations).toEqual([]);
  for (const kind of FAULT_KINDS) expect(report.faultKinds[kind] ?? 0).toBeGreaterThan(15);
  expect(report.lateSchedules).toBeGreaterThan(schedules / 10);
  expect(report.crashed).toBeGreaterThan(schedules / 10);
  // Two orders per schedule: both ways a saga ends were reached many times.
  expect(report.outcomes.completed ?? 0).toBeGreaterThan(schedules / 2);
  expect(report.outcomes.compensated ?? 0).toBeGreaterThan(schedules / 10);
}
