import { describe, expect, it } from "vitest";
import {
  EntryType,
  ERROR_KINDS,
  ErrorKind,
  isProvablyNotApplied,
  LockstepDefinitionError,
  LockstepRuntimeError,
  OPERATOR_STEP,
  operatorEntry,
  outboxMessageId,
} from "../../src/index.js";
import { firstIssuePath, stepEntrySchema } from "../../src/model/records.js";
import { workerStatusSchema } from "../../src/model/worker-status.js";

describe("lockstep's error classes", () => {
  it("a definition error is named and recognized, also from another copy of lockstep", () => {
    const error = new LockstepDefinitionError("Expected `limit` to be an integer >= 0, got -1.");
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("LockstepDefinitionError");
    expect(String(error)).toBe(
      "LockstepDefinitionError: Expected `limit` to be an integer >= 0, got -1.",
    );
    expect(LockstepDefinitionError.is(error)).toBe(true);
    // Another copy's instance carries the same registered brand, not this copy's prototype.
    const otherCopy = Object.assign(new Error("x"), {
      [Symbol.for("lockstep.definition-error")]: true,
    });
    expect(LockstepDefinitionError.is(otherCopy)).toBe(true);
    expect(LockstepRuntimeError.is(error)).toBe(false);
  });

  it("a runtime error is named, keeps its requirement and cause, and is recognized", () => {
    const cause = new Error("no bun:sqlite");
    const error = new LockstepRuntimeError(
      "the Bun runtime (bun:sqlite)",
      "bunSqlite needs the Bun runtime (bun:sqlite); on Node, use openSqlite.",
      { cause },
    );
    expect(error.name).toBe("LockstepRuntimeError");
    expect(error.requirement).toBe("the Bun runtime (bun:sqlite)");
    expect(error.message).toBe(
      "bunSqlite needs the Bun runtime (bun:sqlite); on Node, use openSqlite.",
    );
    expect(error.cause).toBe(cause);
    expect(LockstepRuntimeError.is(error)).toBe(true);
    expect(LockstepDefinitionError.is(error)).toBe(false);
    expect(new LockstepRuntimeError("a", "b").cause).toBeUndefined();
  });

  it("recognizes no other value: a plain error, null, a string, a brand not set to true, a function", () => {
    const brand = Symbol.for("lockstep.definition-error");
    const others: unknown[] = [
      new Error("Expected something"),
      null,
      undefined,
      "LockstepDefinitionError",
      42,
      {},
      { [brand]: "true" },
      { [brand]: 1 },
      Object.assign(() => {}, { [brand]: true }),
    ];
    for (const value of others)
      expect(LockstepDefinitionError.is(value), String(value)).toBe(false);
  });
});

describe("error kinds", () => {
  it("only not_committed, conflict and transient prove that a write was not applied", () => {
    expect(ERROR_KINDS.map((kind) => [kind, isProvablyNotApplied(kind)])).toEqual([
      [ErrorKind.NotCommitted, true],
      [ErrorKind.Conflict, true],
      [ErrorKind.Transient, true],
      [ErrorKind.Unknown, false],
      [ErrorKind.Timeout, false],
    ]);
  });
});

describe("records", () => {
  it("an outbox message's id is the saga id, the step and its index", () => {
    expect(outboxMessageId("order-7", "reserve", 2)).toBe("order-7:reserve:2");
  });

  it("an operator entry concerns the saga, not a step, and carries who did what", () => {
    const action = { actor: "dana", action: "retry", note: "the card works now" };
    const entry = operatorEntry(action, 1_700_000_000_000);
    expect(entry).toEqual({
      step: OPERATOR_STEP,
      type: EntryType.Operator,
      attempt: 1,
      at: 1_700_000_000_000,
      operator: action,
    });
    expect(OPERATOR_STEP).toBe("(operator)");
  });

  it("a failed parse is named by its first field's dotted path, or as the record itself", () => {
    const nested = workerStatusSchema.safeParse({
      workerId: "w",
      host: null,
      pid: null,
      startedAt: 0,
      heartbeatAt: 0,
      intervalMs: 1,
      stoppedAt: null,
      passes: 0,
      failedPasses: 0,
      lastPass: { startedAt: 0, at: 0, claimed: 0, counts: { completed: -1 } },
      lastError: null,
    });
    expect(nested.success).toBe(false);
    if (!nested.success) expect(firstIssuePath(nested.error)).toBe("lastPass.counts.completed");
    const whole = stepEntrySchema.safeParse("not an entry");
    expect(whole.success).toBe(false);
    if (!whole.success) expect(firstIssuePath(whole.error)).toBe("(record)");
  });
});
