import { describe, expect, it } from "vitest";
import { z } from "zod";
import { httpDocumentStore } from "../../src/adapters/http/index.js";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  type AttemptFence,
  assertExplained,
  committed,
  compensated,
  defineSaga,
  defineStore,
  explain,
  type Saga,
  type StepStore,
} from "../../src/index.js";

/** A store that can compare-and-set and never reuses a version, with the given fence. */
function fenced(id: string, fence?: AttemptFence) {
  return defineStore({
    id,
    handle: {},
    capabilities: { conditionalWrite: true, versionsNeverReused: true },
    ...(fence === undefined ? {} : { fence }),
  }) as StepStore<unknown>;
}

/** One compensatable step per store, each with a probe, then a retriable step without one. */
function sagaOn(stores: readonly StepStore<unknown>[]): Saga {
  // biome-ignore lint/suspicious/noExplicitAny: the builder's type grows with each step.
  let builder: any = defineSaga("fenced", { input: z.object({}) });
  stores.forEach((store, i) => {
    builder = builder.step(`s${i}`, {
      store,
      kind: "compensatable",
      output: z.object({}),
      execute: () => ({}),
      probe: () => committed({}),
      compensate: () => compensated(),
    });
  });
  builder = builder.step("byKey", {
    store: stores[0],
    kind: "retriable",
    idempotent: true,
    output: z.object({}),
    execute: () => ({}),
  });
  return builder.build() as Saga;
}

describe("explain: how each step's store closes a timed-out attempt", () => {
  it("reports each step's fence mode, as its store declares it", () => {
    const plan = explain(
      sagaOn([
        fenced("db:killing", { mode: "kill_and_wait" }),
        createMemoryStore({ tier: "plain" }) as StepStore<unknown>,
        httpDocumentStore({
          baseUrl: "http://127.0.0.1:9/docs/",
          fencing: true,
        }) as StepStore<unknown>,
        fenced("svc:horizon", { mode: "landing_horizon", horizonMs: 30_000 }),
        fenced("svc:unfenced"),
      ]),
    );
    expect(plan.steps.map((s) => s.fence)).toEqual([
      "kill_and_wait",
      "in_process",
      "fence_token",
      "landing_horizon",
      "none",
      "kill_and_wait",
    ]);
    expect(plan.steps[2]?.guarantee).toContain("fencing token is raised durably");
    expect(plan.steps[3]?.guarantee).toContain("30000 ms");
    expect(plan.steps[4]?.guarantee).toContain("Nothing closes a timed-out attempt");
  });

  it("notes, without a gap, that a probed step on a store without a fence ends in doubt when it times out", () => {
    const saga = sagaOn([
      fenced("svc:unfenced"),
      httpDocumentStore({ baseUrl: "http://127.0.0.1:9/docs/" }) as StepStore<unknown>,
      fenced("svc:fenced", { mode: "fence_token" }),
    ]);
    const plan = explain(saga);
    expect(plan.steps.map((s) => s.notes.length)).toEqual([1, 1, 0, 0]);
    const note = plan.steps[0]?.notes[0] ?? "";
    expect(note).toContain('Step "s0" of saga "fenced"');
    expect(note).toContain('store "svc:unfenced" declares no fence');
    expect(note).toContain("cannot be closed");
    expect(note).toContain("ends in doubt");
    expect(plan.steps[1]?.fence, "an HTTP service not said to fence declares none").toBe("none");
    expect(plan.gaps).toEqual([]);
    expect(assertExplained(saga).steps).toHaveLength(4);
  });

  it("notes nothing for a step re-executed by its key, which no probe settles", () => {
    const plan = explain(sagaOn([fenced("svc:unfenced")]));
    const byKey = plan.steps.find((s) => s.name === "byKey");
    expect(byKey?.fence).toBe("none");
    expect(byKey?.notes).toEqual([]);
    expect(byKey?.guarantee).not.toContain("timed-out attempt");
  });
});
