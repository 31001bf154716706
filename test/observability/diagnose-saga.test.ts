import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  committed,
  createRecoverer,
  createRunner,
  DIAGNOSED_STATUSES,
  defineSaga,
  diagnose,
  diagnoseSaga,
  MemorySagaLog,
  newSagaId,
  RecoveryAction,
  type RecoveryOutcome,
  SagaStatus,
  stepKey,
} from "../../src/index.js";
import { committedEntry, intent, leaveCrashed } from "./support/crash.js";
import { orderWorld } from "./support/order-world.js";

type World = ReturnType<typeof orderWorld>;

/** A crash, what a diagnosis must predict for it, and what recovery must then do. */
interface Case {
  readonly name: string;
  readonly setup: (world: World, log: MemorySagaLog, sagaId: string) => Promise<void>;
  readonly action: RecoveryAction;
  readonly steps: readonly string[];
  readonly probes: Readonly<Record<string, string>>;
  readonly recovery: RecoveryOutcome;
}

const INPUT = { id: "o-1" };

const CASES: readonly Case[] = [
  {
    name: "died after hold landed, before logging it",
    setup: async (world, log, sagaId) => {
      await world.funds.handle.put("hold:o-1", { key: stepKey(sagaId, "hold") }, "absent");
      await leaveCrashed(log, world.saga, sagaId, INPUT, [intent("hold")]);
    },
    action: RecoveryAction.Compensate,
    steps: ["hold"],
    probes: { hold: "committed" },
    recovery: "compensated",
  },
  {
    name: "died after logging hold's intent, before writing",
    setup: (world, log, sagaId) => leaveCrashed(log, world.saga, sagaId, INPUT, [intent("hold")]),
    action: RecoveryAction.Compensate,
    steps: [],
    probes: { hold: "not_committed" },
    recovery: "compensated",
  },
  {
    name: "died after the pivot landed, before logging it",
    setup: async (world, log, sagaId) => {
      const hold = await world.funds.handle.put("hold:o-1", { key: stepKey(sagaId, "hold") });
      await world.payments.handle.put("charge:o-1", { key: stepKey(sagaId, "charge") });
      await leaveCrashed(log, world.saga, sagaId, INPUT, [
        intent("hold"),
        committedEntry("hold", { version: hold.version }),
        intent("charge"),
      ]);
    },
    action: RecoveryAction.RollForward,
    steps: ["notify"],
    probes: { charge: "committed" },
    recovery: "completed",
  },
  {
    name: "parked in doubt: the pivot's probe cannot tell",
    setup: async (world, log, sagaId) => {
      world.switches.chargeProbeBlind = true;
      const hold = await world.funds.handle.put("hold:o-1", { key: stepKey(sagaId, "hold") });
      await leaveCrashed(
        log,
        world.saga,
        sagaId,
        INPUT,
        [intent("hold"), committedEntry("hold", { version: hold.version }), intent("charge")],
        { status: SagaStatus.InDoubt },
      );
    },
    action: RecoveryAction.StayInDoubt,
    steps: ["charge"],
    probes: { charge: "cannot_tell" },
    recovery: "in_doubt",
  },
  {
    name: "compensating when it died, with hold still in place",
    setup: async (world, log, sagaId) => {
      const hold = await world.funds.handle.put("hold:o-1", { key: stepKey(sagaId, "hold") });
      await leaveCrashed(
        log,
        world.saga,
        sagaId,
        INPUT,
        [
          intent("hold"),
          committedEntry("hold", { version: hold.version }),
          intent("charge"),
          { step: "charge", type: "not_committed", attempt: 1, at: Date.now() - 110_000 },
        ],
        { status: SagaStatus.Compensating },
      );
    },
    action: RecoveryAction.Compensate,
    steps: ["hold"],
    probes: {},
    recovery: "compensated",
  },
];

describe("diagnoseSaga forecasts what recovery then does", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const world = orderWorld();
      const log = new MemorySagaLog();
      const sagaId = newSagaId();
      await c.setup(world, log, sagaId);
      const before = JSON.stringify(await log.load(sagaId));
      const stores = () => JSON.stringify([world.funds.snapshot(), world.payments.snapshot()]);
      const storesBefore = stores();

      const diagnosis = (await diagnoseSaga(log, sagaId, { sagas: [world.saga] }))._unsafeUnwrap();
      expect(diagnosis.action).toBe(c.action);
      expect(diagnosis.actionSteps).toEqual(c.steps);
      expect(
        Object.fromEntries(
          diagnosis.steps.filter((s) => s.probe !== undefined).map((s) => [s.name, s.probe]),
        ),
      ).toEqual(c.probes);
      expect(diagnosis.problem).toBe(true);
      expect(JSON.stringify(await log.load(sagaId)), "a diagnosis wrote to the log").toBe(before);
      expect(stores(), "a diagnosis wrote to a store").toBe(storesBefore);

      const runner = createRunner({ log });
      const recovered = (
        await createRecoverer({ runner, sagas: [world.saga] }).recover()
      )._unsafeUnwrap();
      expect(recovered.sagas.map((s) => s.outcome)).toEqual([c.recovery]);
    });
  }

  it("covers every case above", () => {
    expect(CASES).toHaveLength(5);
    expect(new Set(CASES.map((c) => c.action)).size).toBe(3);
  });
});

describe("diagnoseSaga", () => {
  it("reports a probe that throws as failed, with its message, and the saga staying in doubt", async () => {
    const world = orderWorld();
    world.switches.chargeProbeThrows = true;
    const log = new MemorySagaLog();
    const sagaId = newSagaId();
    await leaveCrashed(log, world.saga, sagaId, INPUT, [
      intent("hold"),
      committedEntry("hold", { version: 1 }),
      intent("charge"),
    ]);
    const d = (await diagnoseSaga(log, sagaId, { sagas: [world.saga] }))._unsafeUnwrap();
    const charge = d.steps.find((s) => s.name === "charge");
    expect(charge?.probe).toBe("failed");
    expect(charge?.probeError).toBe("payments API unreachable");
    expect(d.action).toBe(RecoveryAction.StayInDoubt);
    expect(d.facts.join(" ")).toContain("its probe failed: payments API unreachable");
  });

  it("says a live lease holds recovery off, and does not call a saga in progress a problem", async () => {
    const world = orderWorld();
    const log = new MemorySagaLog();
    const sagaId = newSagaId();
    await leaveCrashed(log, world.saga, sagaId, INPUT, [intent("hold")], { leaseLive: true });
    await world.funds.handle.put("hold:o-1", { key: stepKey(sagaId, "hold") });
    const d = (await diagnoseSaga(log, sagaId, { sagas: [world.saga] }))._unsafeUnwrap();
    expect(d.lease.live).toBe(true);
    expect(d.plan).toMatch(/^Once the lease of runner-that-died lapses/);
    expect(d.problem).toBe(false);
  });

  it("predicts needs_attention for a saga whose logged definition differs from the one given", async () => {
    const world = orderWorld();
    const log = new MemorySagaLog();
    const sagaId = newSagaId();
    await leaveCrashed(log, world.saga, sagaId, INPUT, [intent("hold")]);
    const changed = defineSaga("order", { input: z.object({ id: z.string() }) })
      .step("hold", {
        store: world.funds,
        kind: "pivot",
        output: z.object({}),
        execute: () => ({}),
        probe: () => committed({}),
      })
      .build();
    const d = (await diagnoseSaga(log, sagaId, { sagas: [changed] }))._unsafeUnwrap();
    expect(d.action).toBe(RecoveryAction.MarkNeedsAttention);
    expect(d.plan).toContain("definition_mismatch");
    const recovered = (
      await createRecoverer({ runner: createRunner({ log }), sagas: [changed] }).recover()
    )._unsafeUnwrap();
    expect(recovered.sagas.map((s) => s.outcome)).toEqual(["needs_attention"]);
  });

  it("says a recoverer without a definition of that name never claims the saga", async () => {
    const world = orderWorld();
    const other = orderWorld();
    const log = new MemorySagaLog();
    const sagaId = newSagaId();
    await leaveCrashed(log, world.saga, sagaId, INPUT, [intent("hold")]);
    const unrelated = defineSaga("refund", { input: z.object({}) })
      .step("pay", {
        store: other.payments,
        kind: "pivot",
        output: z.object({}),
        execute: () => ({}),
        probe: () => committed({}),
      })
      .build();
    const d = (await diagnoseSaga(log, sagaId, { sagas: [unrelated] }))._unsafeUnwrap();
    expect(d.action).toBe(RecoveryAction.LeaveAlone);
    expect(d.plan).toContain('none of them is named "order"');
    expect(d.problem).toBe(true);
  });

  it("reads the log alone when no definitions are given, and probes nothing", async () => {
    const world = orderWorld();
    world.switches.chargeProbeThrows = true;
    const log = new MemorySagaLog();
    const sagaId = newSagaId();
    await leaveCrashed(log, world.saga, sagaId, INPUT, [intent("hold")]);
    const d = (await diagnoseSaga(log, sagaId))._unsafeUnwrap();
    expect(d.action).toBe(RecoveryAction.Unknown);
    expect(d.steps.map((s) => [s.name, s.status, s.probe])).toEqual([
      ["hold", "unknown", undefined],
      ["charge", "skipped", undefined],
      ["notify", "skipped", undefined],
    ]);
    expect(d.facts.join(" ")).toContain("its probe was not asked");
  });

  it("fails with saga_not_found for an id the log does not have", async () => {
    const error = (await diagnoseSaga(new MemorySagaLog(), "nope"))._unsafeUnwrapErr();
    expect(error.code).toBe("saga_not_found");
    expect(error.message).toContain('"nope"');
  });
});

describe("diagnose", () => {
  it("looks at every status but a clean finish, newest first, and leaves finished sagas out", async () => {
    const world = orderWorld();
    const log = new MemorySagaLog();
    const runner = createRunner({ log });
    const done = (await runner.run(world.saga, { id: "done" }))._unsafeUnwrap();
    world.switches.chargeLost = true;
    world.switches.chargeProbeBlind = true;
    const parked = (await runner.run(world.saga, { id: "parked" }))._unsafeUnwrapErr();
    expect(parked.code).toBe("in_doubt");
    const all = (await diagnose(log, { sagas: [world.saga] }))._unsafeUnwrap();
    expect(DIAGNOSED_STATUSES).toHaveLength(5);
    expect(all.map((d) => d.status)).toEqual(["in_doubt"]);
    expect(all.some((d) => d.sagaId === done.sagaId)).toBe(false);
    expect(all[0]?.action).toBe(RecoveryAction.StayInDoubt);
  });
});
