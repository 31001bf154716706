import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  createRunner,
  defineSaga,
  guardFailed,
  MemorySagaLog,
  notCommitted,
  type SagaReport,
  type StepEntry,
  StoreError,
} from "../../src/index.js";
import { replaySteps } from "../../src/log/replay.js";
import { orderWorld } from "../observability/support/order-world.js";

const DEFINITION = {
  steps: [
    { name: "hold", kind: "compensatable", store: "funds", probe: true },
    { name: "charge", kind: "pivot", store: "payments", probe: true },
    { name: "notify", kind: "retriable", store: "mail", probe: false },
  ],
} as const;

let seq = 0;
function entry(step: string, type: StepEntry["type"], extra: Partial<StepEntry> = {}): StepEntry {
  seq++;
  return {
    schemaVersion: 1,
    sagaId: "s-1",
    seq,
    step,
    type,
    attempt: 1,
    token: 1,
    at: seq,
    ...extra,
  };
}

const timeout = { kind: "timeout", message: "no answer" };
const refused = { kind: "conflict", message: "the hold changed" };

describe("replaySteps", () => {
  it("leaves a step with an intent and no outcome unknown, its attempt counted", () => {
    const [hold, charge] = replaySteps(DEFINITION, [entry("hold", "intent", { attempt: 2 })]);
    expect(hold).toMatchObject({ status: "unknown", attempts: 2, executed: true });
    expect(charge).toMatchObject({ status: "skipped", attempts: 0, executed: false });
  });

  it("keeps the error of an unknown outcome, also once a probe finds the step committed", () => {
    const [, charge] = replaySteps(DEFINITION, [
      entry("charge", "intent"),
      entry("charge", "unknown", { error: timeout }),
      entry("charge", "committed", { output: { charged: true }, via: "probe" }),
    ]);
    expect(charge).toMatchObject({
      status: "committed",
      via: "probe",
      output: { charged: true },
      error: timeout,
    });
  });

  it("leaves a committed output its schema rejects unknown, keeping the output as written", () => {
    const [hold] = replaySteps(
      DEFINITION,
      [entry("hold", "committed", { output: { version: "x" }, via: "co_commit" })],
      () => false,
    );
    expect(hold).toMatchObject({
      status: "unknown",
      output: { version: "x" },
      via: "co_commit",
      executed: true,
    });
  });

  it("keeps a compensation's failure apart from the step's own error", () => {
    const [hold] = replaySteps(DEFINITION, [
      entry("hold", "intent"),
      entry("hold", "unknown", { error: timeout }),
      entry("hold", "committed", { output: { version: 1 }, via: "probe" }),
      entry("hold", "compensation_intent"),
      entry("hold", "guard_failed", { error: refused }),
    ]);
    expect(hold).toMatchObject({
      status: "committed",
      error: timeout,
      compensation: "guard_failed",
      compensationError: refused,
    });
  });

  it("never clears an error with an entry that carries none, and ignores unnamed steps", () => {
    const [, , notify] = replaySteps(DEFINITION, [
      entry("notify", "not_committed", { error: refused }),
      entry("notify", "not_committed"),
      entry("ghost", "committed", { output: 1 }),
    ]);
    expect(notify).toMatchObject({ status: "not_committed", error: refused });
  });
});

describe("replaySteps, on what does not move a step", () => {
  it("leaves a step nothing compensated at compensation none", () => {
    const [hold] = replaySteps(DEFINITION, [entry("hold", "committed", { output: {} })]);
    expect(hold).toMatchObject({ status: "committed", compensation: "none" });
  });

  it("counts a step's execute attempts, not its compensation's", () => {
    const [hold] = replaySteps(DEFINITION, [
      entry("hold", "intent"),
      entry("hold", "committed", { output: {} }),
      entry("hold", "compensation_intent", { attempt: 3 }),
      entry("hold", "compensation_failed", { attempt: 3, error: refused }),
    ]);
    expect(hold).toMatchObject({ attempts: 1, compensation: "failed", compensationError: refused });
  });

  it("moves nothing on an entry of a type it does not know, as a newer version may write", () => {
    const [hold] = replaySteps(DEFINITION, [
      entry("hold", "committed", { output: {} }),
      entry("hold", "rewound" as StepEntry["type"], { attempt: 5, error: refused }),
    ]);
    expect(hold).toMatchObject({ status: "committed", attempts: 1, compensation: "none" });
    expect(hold?.error).toBeUndefined();
  });
});

describe("a saga rebuilt from the log", () => {
  it("reports what the live run reported, the error that made the probe necessary included", async () => {
    const world = orderWorld();
    world.switches.chargeLost = true;
    const runner = createRunner({ log: new MemorySagaLog() });
    const live = (await runner.run(world.saga, { id: "o-1" }, { sagaId: "r-1" }))._unsafeUnwrap();
    expect(live.steps[1]).toMatchObject({ committedVia: "probe", error: { kind: "unknown" } });
    const again = (await runner.run(world.saga, { id: "o-1" }, { sagaId: "r-1" }))._unsafeUnwrap();
    expect(again).toEqual(live);
  });

  it("does not report a failed compensation guard as the step's error", async () => {
    const store = createMemoryStore({ id: "memory:replay", tier: "plain" });
    const saga = defineSaga("guarded", { input: z.object({}) })
      .step("hold", {
        store,
        kind: "compensatable",
        output: z.object({}),
        execute: async () => ({}),
        probe: async () => notCommitted(),
        compensate: async () => guardFailed("someone else moved it"),
      })
      .step("charge", {
        store,
        kind: "pivot",
        output: z.object({}),
        retry: { attempts: 1 },
        execute: async () => {
          throw new StoreError("not_committed", "declined");
        },
        probe: async () => notCommitted(),
      })
      .build();
    const runner = createRunner({ log: new MemorySagaLog() });
    const reportOf = (error: unknown) => (error as { report: SagaReport }).report;
    const live = reportOf((await runner.run(saga, {}, { sagaId: "g-1" }))._unsafeUnwrapErr());
    const again = reportOf((await runner.run(saga, {}, { sagaId: "g-1" }))._unsafeUnwrapErr());
    expect(live.status).toBe("needs_attention");
    expect(live.steps[0]?.error).toBeUndefined();
    expect(again.steps).toEqual(live.steps);
  });
});
