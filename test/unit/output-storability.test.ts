import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import { checkOutput, invalidLoggedOutput, jsonLoss } from "../../src/core/step-output.js";
import { committed, defineSaga } from "../../src/index.js";
import type { StepEntry } from "../../src/model/records.js";

/**
 * The one check of what a step committed: its schema, then whether the log (JSON) keeps it as it
 * is, walked the way JSON.stringify walks it; and the check of outputs already in the log.
 */
const store = createMemoryStore({ tier: "plain" });
const saga = defineSaga("s", { input: z.object({}) })
  .step("pay", {
    store,
    kind: "pivot",
    output: z.object({ id: z.string() }),
    execute: async () => ({ id: "p-1" }),
    probe: async () => committed({ id: "p-1" }),
  })
  .step("notify", {
    store,
    kind: "retriable",
    output: z.unknown(),
    execute: async () => null,
  })
  .build();
const [pay, notify] = saga.steps as [(typeof saga.steps)[0], (typeof saga.steps)[0]];

describe("checking a step's output", () => {
  it("refuses an output that fails the step's schema, saying so", () => {
    const check = checkOutput(pay, { id: 7 });
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.message.startsWith("failed its schema (")).toBe(true);
    expect(check.message).not.toContain("stored");
  });

  it("refuses an output the log cannot keep, naming the path", () => {
    expect(checkOutput(notify, { tags: new Set(["a"]) })).toEqual({
      ok: false,
      message:
        "cannot be stored in the saga log (`output.tags`: a Set (JSON keeps none of its entries) cannot be stored as JSON)",
    });
  });

  it("passes on the parsed output", () => {
    expect(checkOutput(pay, { id: "p-1", extra: 1 })).toEqual({ ok: true, output: { id: "p-1" } });
  });
});

describe("what JSON would lose of an output", () => {
  it("nothing of plain data, null, or an undefined field", () => {
    expect(jsonLoss({ a: 1, b: "x", c: [true, null], d: undefined })).toBeUndefined();
    expect(jsonLoss(null)).toBeUndefined();
    expect(jsonLoss("text")).toBeUndefined();
  });

  it("a symbol, a Set or a Map, naming the path and what it is", () => {
    expect(jsonLoss({ s: Symbol("x") })).toBe("`output.s`: a symbol cannot be stored as JSON");
    expect(jsonLoss({ tags: new Set([1]) })).toBe(
      "`output.tags`: a Set (JSON keeps none of its entries) cannot be stored as JSON",
    );
    expect(jsonLoss([new Map()], "message")).toBe(
      "`message.0`: a Map (JSON keeps none of its entries) cannot be stored as JSON",
    );
  });

  it("an Infinity, by its value", () => {
    expect(jsonLoss({ n: Number.POSITIVE_INFINITY })).toBe(
      "`output.n`: Infinity cannot be stored as JSON",
    );
  });

  it("what an object's toJSON returns, not the object", () => {
    expect(jsonLoss({ at: { toJSON: () => 10n } })).toBe(
      "`output.at`: a BigInt cannot be stored as JSON",
    );
    expect(jsonLoss({ at: { toJSON: () => ({ fine: 1 }), lost: () => 1 } })).toBeUndefined();
    // toJSON is given the key the value sits under, the empty string at the top.
    const byKey = { toJSON: (key: string) => (key === "" ? { ok: true } : 10n) };
    expect(jsonLoss(byKey)).toBeUndefined();
    expect(jsonLoss({ inner: byKey })).toBe("`output.inner`: a BigInt cannot be stored as JSON");
  });

  it("a field named toJSON that is not a function is only a field", () => {
    expect(jsonLoss({ toJSON: "text", n: 1 })).toBeUndefined();
    expect(jsonLoss({ toJSON: 10n })).toBe("`output.toJSON`: a BigInt cannot be stored as JSON");
  });

  it("a function, even one with a toJSON of its own", () => {
    const fn = Object.assign(() => 1, { toJSON: () => "fn" });
    expect(jsonLoss({ fn })).toBe("`output.fn`: a function cannot be stored as JSON");
  });

  it("a BigInt, unless BigInt has been given a toJSON", () => {
    expect(jsonLoss({ n: 5n })).toBe("`output.n`: a BigInt cannot be stored as JSON");
    const proto = BigInt.prototype as { toJSON?: () => string };
    proto.toJSON = function (this: bigint) {
      return this.toString();
    };
    try {
      expect(jsonLoss({ n: 5n })).toBeUndefined();
      expect(JSON.stringify({ n: 5n })).toBe('{"n":"5"}');
    } finally {
      delete proto.toJSON;
    }
  });

  it("a value that throws when read, with the error's message", () => {
    const value = {
      get broken(): never {
        throw new Error("cannot read broken");
      },
    };
    expect(jsonLoss(value)).toBe("`output`: cannot read broken");
    expect(
      jsonLoss(
        {
          at: {
            toJSON: () => {
              throw new Error("no date");
            },
          },
        },
        "message",
      ),
    ).toBe("`message`: no date");
  });

  it("a circular reference, but not the same object met twice side by side", () => {
    const shared = { n: 1 };
    expect(jsonLoss({ a: shared, b: shared })).toBeUndefined();
    const loop: Record<string, unknown> = {};
    loop.back = { loop };
    expect(jsonLoss(loop)).toBe(
      "`output.back.loop`: a circular reference cannot be stored as JSON",
    );
  });
});

describe("outputs already in the log", () => {
  const entry = (seq: number, step: string, type: StepEntry["type"], output: unknown) =>
    ({
      schemaVersion: 1,
      sagaId: "x",
      seq,
      step,
      type,
      attempt: 1,
      token: 1,
      at: 0,
      output,
    }) as StepEntry;

  it("names the first committed entry whose output fails its step's schema", () => {
    expect(
      invalidLoggedOutput(saga.steps, [
        entry(1, "pay", "intent", undefined),
        entry(2, "pay", "committed", { id: 3 }),
      ]),
    ).toEqual({
      field: "entries.2.output",
      message: expect.stringMatching(
        /^The output logged for step "pay" at `entries\.2\.output` fails the step's schema \(.+\)\.$/,
      ),
    });
  });

  it("passes over entries of steps the definition does not have, and entries that are not commits", () => {
    expect(
      invalidLoggedOutput(saga.steps, [
        entry(1, "(operator)", "operator", undefined),
        entry(2, "refund", "committed", { anything: true }),
        entry(3, "pay", "unknown", { id: 3 }),
        entry(4, "pay", "committed", { id: "p-1" }),
      ]),
    ).toBeUndefined();
  });
});
