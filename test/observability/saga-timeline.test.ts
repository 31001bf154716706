import { describe, expect, it } from "vitest";
import {
  createRecoverer,
  createRunner,
  MemorySagaLog,
  newSagaId,
  type SagaReport,
  sagaTimeline,
} from "../../src/index.js";
import { intent, leaveCrashed } from "./support/crash.js";
import { orderWorld, type Switches } from "./support/order-world.js";

/** Runs that end in every way a run can, and the status each must end with. */
const ENDINGS: readonly { name: string; switches: Partial<Switches>; status: string }[] = [
  { name: "completed", switches: {}, status: "completed" },
  { name: "refused pivot, compensated", switches: { chargeRefused: true }, status: "compensated" },
  {
    name: "lost pivot response, probe blind",
    switches: { chargeLost: true, chargeProbeBlind: true },
    status: "in_doubt",
  },
  { name: "lost pivot response, probed", switches: { chargeLost: true }, status: "completed" },
  { name: "retriable step refused", switches: { notifyRefused: true }, status: "running" },
];

describe("sagaTimeline", () => {
  for (const ending of ENDINGS) {
    it(`rebuilds the same step statuses the runner reported: ${ending.name}`, async () => {
      const world = orderWorld();
      Object.assign(world.switches, ending.switches);
      const log = new MemorySagaLog();
      const result = await createRunner({ log }).run(world.saga, { id: "o-1" });
      const report: SagaReport = result.isOk()
        ? result.value
        : (result.error as { report: SagaReport }).report;
      const snapshot = await log.load(report.sagaId);
      expect(snapshot).toBeDefined();
      const timeline = sagaTimeline(snapshot as NonNullable<typeof snapshot>);
      expect(timeline.status).toBe(ending.status);
      expect(timeline.steps.map((s) => s.status)).toEqual(report.steps.map((s) => s.status));
      expect(timeline.steps.map((s) => s.attempts)).toEqual(report.steps.map((s) => s.attempts));
      expect(timeline.entries.map((e) => e.seq)).toEqual(timeline.entries.map((_, i) => i + 1));
    });
  }

  it("covers five endings", () => {
    expect(ENDINGS).toHaveLength(5);
  });

  it("marks the entries written after another runner took the saga over", async () => {
    const world = orderWorld();
    const log = new MemorySagaLog();
    const sagaId = newSagaId();
    await leaveCrashed(log, world.saga, sagaId, { id: "o-1" }, [intent("hold")]);
    const runner = createRunner({ log, owner: "recoverer-1" });
    (await createRecoverer({ runner, sagas: [world.saga] }).recover())._unsafeUnwrap();
    const snapshot = await log.load(sagaId);
    const timeline = sagaTimeline(snapshot as NonNullable<typeof snapshot>);
    expect(timeline.lease).toEqual({ owner: null, expiresAt: null, token: 2 });
    expect(timeline.entries.map((e) => [e.type, e.token, e.takeover])).toEqual([
      ["intent", 1, false],
      ["not_committed", 2, true],
      ["compensation_skipped", 2, false],
    ]);
    expect(timeline.steps[0]?.compensation).toBe("skipped");
  });
});
