import { expect, it } from "vitest";
import { testTransfer, transferSaga, transferScenario } from "../../examples/testing/transfer.js";
import { exploreCrashPoints } from "../../src/testing/index.js";

it("runs the example of docs/testing.md: every crash point and 500 fault schedules of a transfer", async () => {
  const { crashes, simulation } = await testTransfer();
  console.log(
    `docs example: ${crashes.points} crash points (${crashes.recoveryPoints} in recovery), ${simulation.schedules} schedules with ${simulation.faultsFired} faults, outcomes ${JSON.stringify(simulation.outcomes)}`,
  );
  // Each of the three store writes, before and after, each after a durable log write.
  expect(crashes.boundaries.filter((b) => !b.includes(" log."))).toEqual(
    ["wallet", "ledger", "ledger"].flatMap((s) => [
      `before ${s}.handle.put`,
      `after ${s}.handle.put`,
    ]),
  );
  expect(crashes.points).toBe(crashes.boundaries.length);
  expect(crashes.reached).toBe(crashes.points);
  expect(crashes.runs).toBe(1 + crashes.points + crashes.recoveryPoints);
  expect(crashes.recoveryReached).toBe(crashes.recoveryPoints);
  expect(crashes.violations).toEqual([]);
  expect(simulation.schedules).toBe(500);
  expect(simulation.violations).toEqual([]);
  expect(simulation.outcomes.completed ?? 0).toBeGreaterThan(0);
  expect(simulation.outcomes.compensated ?? 0).toBeGreaterThan(0);
});

it("fails the example's exploration when the credit's probe lies, as the doc shows", async () => {
  const result = await exploreCrashPoints({
    ...transferScenario,
    saga: (bank) => {
      const saga = transferSaga(bank);
      const steps = saga.steps.map((step) =>
        step.name === "credit" ? { ...step, probe: () => ({ status: "not_committed" }) } : step,
      );
      return { ...saga, steps } as typeof saga;
    },
  });
  const message = result._unsafeUnwrapErr().message;
  expect(message).toMatch(
    /Crash point \d+ \(after ledger\.handle\.put\), after recovery pass 1: \[all-or-nothing\]/,
  );
  expect(message).toMatch(/Replay it with `only: \[\{"point":\d+\}\]`/);
  console.log(message.split("\n").slice(0, 3).join("\n"));
});
