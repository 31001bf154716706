import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  AttentionReason,
  cannotTell,
  committed,
  compensated,
  createRunner,
  defineSaga,
  ErrorCode,
  EscalationError,
  escalate,
  isLockstepError,
  lockstepError,
  MemorySagaLog,
  notCommitted,
  SagaStatus,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

/** hold (compensatable) → settle (pivot), which meets an escrow nobody can repair but a person. */
function settlement(settle: () => never) {
  const clock = new VirtualClock();
  const log = new MemorySagaLog();
  const store = createMemoryStore({ id: "escrow", tier: "plain" });
  let undone = 0;
  const saga = defineSaga("settle-bounty", { input: z.object({}) })
    .step("hold", {
      store,
      kind: "compensatable",
      output: z.object({}),
      execute: async ({ handle }) => {
        await handle.put("hold", 1);
        return {};
      },
      probe: async ({ handle }) =>
        (await handle.get("hold")) === undefined ? notCommitted() : committed({}),
      compensate: async ({ handle }) => {
        undone++;
        await handle.delete("hold");
        return compensated();
      },
    })
    .step("settle", {
      store,
      kind: "pivot",
      output: z.object({}),
      execute: async () => settle(),
      probe: async () => notCommitted(),
    })
    .build();
  const run = () => clock.run(createRunner({ clock, log }).run(saga, {}));
  return { log, store, run, undone: () => undone };
}

describe("a step that escalates", () => {
  const cases: [string, () => never][] = [
    ["with escalate()", () => escalate("bounty b-1 cannot be settled: its escrow is void")],
    [
      "with an escalation as the cause of what it throws",
      () => {
        throw new Error("settling failed", {
          cause: new EscalationError("bounty b-1 cannot be settled: its escrow is void"),
        });
      },
    ],
  ];

  it.each(cases)("%s stops the saga for a person and undoes nothing", async (_how, settle) => {
    const { log, store, run, undone } = settlement(settle);
    const error = (await run())._unsafeUnwrapErr();
    expect(error.code, error.message).toBe(ErrorCode.NeedsAttention);
    if (error.code !== ErrorCode.NeedsAttention) return;
    expect(error.step).toBe("settle");
    expect(error.reason).toBe(AttentionReason.Escalated);
    expect(error.message).toContain("bounty b-1 cannot be settled: its escrow is void");
    expect(undone(), "an escalation compensates nothing").toBe(0);
    expect(Object.keys(store.snapshot())).toEqual(["hold"]);
    const [record] = await log.list();
    expect(record?.status).toBe(SagaStatus.NeedsAttention);
    expect(record?.attention).toEqual({
      reason: AttentionReason.Escalated,
      step: "settle",
      message: "bounty b-1 cannot be settled: its escrow is void",
    });
  });

  it("ran both ways of escalating", () => {
    expect(cases).toHaveLength(2);
  });
});

describe("EscalationError", () => {
  it("is what escalate throws, named and carrying the message", () => {
    let thrown: unknown;
    try {
      escalate("escrow e-9 was voided");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(EscalationError);
    expect((thrown as Error).name).toBe("EscalationError");
    expect((thrown as Error).message).toBe("escrow e-9 was voided");
    expect(EscalationError.is(thrown)).toBe(true);
  });

  it("recognizes an escalation from another copy of lockstep by its brand, and nothing else", () => {
    const foreign = Object.assign(new Error("from the CJS build"), {
      [Symbol.for("lockstep.escalation")]: true,
    });
    expect(EscalationError.is(foreign)).toBe(true);
    expect(EscalationError.is(new Error("escrow void"))).toBe(false);
    expect(EscalationError.is(null)).toBe(false);
    expect(EscalationError.is("escalated")).toBe(false);
  });
});

describe("probe and error helpers", () => {
  it("cannotTell carries its reason only when given one", () => {
    expect(cannotTell("the replica is behind")).toEqual({
      status: "unknown",
      reason: "the replica is behind",
    });
    expect(cannotTell()).toEqual({ status: "unknown" });
    expect("reason" in cannotTell()).toBe(false);
  });

  it("lockstepError builds a frozen error value that isLockstepError recognizes, and a copy of it is not one", () => {
    const error = lockstepError({
      code: ErrorCode.InvalidOptions,
      message: "Expected `limit` to be a positive integer, got `0` (number).",
      option: "limit",
    });
    expect(isLockstepError(error)).toBe(true);
    expect(Object.isFrozen(error)).toBe(true);
    expect(error.message).toBe("Expected `limit` to be a positive integer, got `0` (number).");
    expect(isLockstepError({ ...error })).toBe(false);
  });
});
