import type { ResultAsync } from "neverthrow";
import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { createMemoryStore, type MemoryHandle } from "../../src/adapters/memory/index.js";
import {
  type CompletedReport,
  committed,
  compensated,
  createRunner,
  defineSaga,
  type RecovererOptions,
  type Runner,
  type SagaError,
  type SagaOutputs,
} from "../../src/index.js";

const store = createMemoryStore({ tier: "transactional" });

const saga = defineSaga("typed", {
  input: z.object({ amount: z.number(), note: z.string().optional() }),
})
  .step("reserve", {
    store,
    kind: "compensatable",
    output: z.object({ holdId: z.string() }),
    execute: ({ input, outputs, handle }) => {
      expectTypeOf(input).toEqualTypeOf<{ amount: number; note?: string | undefined }>();
      expectTypeOf(outputs).toEqualTypeOf<Record<never, never>>();
      expectTypeOf(handle).toEqualTypeOf<MemoryHandle>();
      return { holdId: `h${input.amount}` };
    },
    probe: () => committed({ holdId: "h" }),
    compensate: ({ output }) => {
      expectTypeOf(output).toEqualTypeOf<{ holdId: string }>();
      return compensated();
    },
  })
  .step("capture", {
    store,
    kind: "pivot",
    output: z.object({ captured: z.number().int() }),
    execute: ({ outputs }) => {
      expectTypeOf(outputs.reserve).toEqualTypeOf<{ holdId: string }>();
      return { captured: 1 };
    },
    probe: ({ outputs }) => {
      expectTypeOf(outputs.reserve.holdId).toBeString();
      return committed({ captured: 1 });
    },
  })
  .step("note", {
    store,
    kind: "retriable",
    output: z.object({ at: z.coerce.date() }),
    execute: ({ outputs }) => {
      expectTypeOf(outputs).toEqualTypeOf<{
        readonly reserve: { holdId: string };
        readonly capture: { captured: number };
      }>();
      return { at: "2026-01-01" };
    },
  })
  .build();

describe("saga types", () => {
  it("infers every step's output from its schema", () => {
    expectTypeOf<SagaOutputs<typeof saga>>().toEqualTypeOf<{
      readonly reserve: { holdId: string };
      readonly capture: { captured: number };
      readonly note: { at: Date };
    }>();
  });

  it("types run's input and result", () => {
    const runner = createRunner();
    const result = runner.run(saga, { amount: 5 });
    expectTypeOf(result).toEqualTypeOf<
      ResultAsync<CompletedReport<SagaOutputs<typeof saga>>, SagaError>
    >();
    // @ts-expect-error amount must be a number
    runner.run(saga, { amount: "5" });
  });

  it("keeps a runner's execution environment out of its public type", () => {
    expectTypeOf<Runner>().not.toHaveProperty("env");
    expectTypeOf<RecovererOptions["runner"]>().toEqualTypeOf<Runner>();
  });

  it("narrows errors by code", () => {
    const handle = (error: SagaError) => {
      if (error.code === "needs_attention") {
        expectTypeOf(error.reason).toEqualTypeOf<import("../../src/index.js").AttentionReason>();
        expectTypeOf(error.step).toBeString();
      }
      if (error.code === "invalid_input") {
        expectTypeOf(error.issues).toEqualTypeOf<
          readonly import("../../src/index.js").InputIssue[]
        >();
      }
    };
    expectTypeOf(handle).toBeFunction();
  });

  it("rejects an execute whose result does not match the output schema", () => {
    defineSaga("bad", { input: z.object({}) }).step("x", {
      store,
      kind: "retriable",
      output: z.object({ n: z.number() }),
      // @ts-expect-error n must be a number
      execute: () => ({ n: "1" }),
    });
  });
});
