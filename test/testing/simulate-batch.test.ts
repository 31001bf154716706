import { expect, it } from "vitest";
import { assertSimulation, FAULT_KINDS } from "../../src/testing/index.js";
import { SCHEDULES_PER_TIER, simulatedCheckout, TIERS } from "./support/checkout.js";

it("keeps every invariant of the batch checkout over thousands of seeded fault schedules", async () => {
  const report = await assertSimulation({
    ...simulatedCheckout("batch"),
    schedules: SCHEDULES_PER_TIER,
    seed: 2026,
  });
  console.log(
    `simulated batch checkout: ${report.schedules} schedules, ${report.faultsFired} faults fired ${JSON.stringify(report.faultKinds)}, ${report.crashed} with a crashed or abandoned process, outcomes ${JSON.stringify(report.outcomes)}, ${report.violations.length} violations`,
  );
  expect(report.schedules).toBe(SCHEDULES_PER_TIER);
  // The three tiers' files together run at least 10,000 schedules per CI run.
  expect(SCHEDULES_PER_TIER * TIERS.length).toBeGreaterThanOrEqual(10_000);
  expect(report.violations).toEqual([]);
  for (const kind of FAULT_KINDS) expect(report.faultKinds[kind] ?? 0).toBeGreaterThan(100);
  expect(report.crashed).toBeGreaterThan(SCHEDULES_PER_TIER / 10);
  // Two orders per schedule: both ways a saga ends were reached many times.
  expect(report.outcomes.completed ?? 0).toBeGreaterThan(SCHEDULES_PER_TIER / 2);
  expect(report.outcomes.compensated ?? 0).toBeGreaterThan(SCHEDULES_PER_TIER / 10);
});
