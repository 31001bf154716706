import { describe, expect, it } from "vitest";
import {
  classifyError,
  declareCapabilities,
  defineStore,
  ErrorKind,
  isLockstepError,
  LockstepDefinitionError,
  NO_CAPABILITIES,
  StoreError,
} from "../../src/index.js";

describe("declared capabilities", () => {
  it("default every flag to false", () => {
    expect(NO_CAPABILITIES).toEqual({
      transactions: false,
      atomicBatch: false,
      conditionalWrite: false,
      savepoints: false,
      versionsNeverReused: false,
    });
    expect(declareCapabilities({ conditionalWrite: true })).toEqual({
      ...NO_CAPABILITIES,
      conditionalWrite: true,
    });
    expect(Object.isFrozen(declareCapabilities())).toBe(true);
  });

  it("are never inferred from methods on the handle", () => {
    const handle = { transaction: () => {}, batch: () => {}, multi: () => {} };
    const store = defineStore({ id: "x", handle });
    expect(store.capabilities).toEqual(NO_CAPABILITIES);
  });

  const refusals: [string, () => unknown, string][] = [
    [
      "a declared capability without its method",
      () => defineStore({ id: "x", handle: {}, capabilities: { transactions: true } }),
      'Store "x" declares `transactions` but has no `transaction` method',
    ],
    [
      "a method without its capability",
      () => defineStore({ id: "x", handle: {}, batch: async () => [] }),
      'Store "x" has a `batch` method but does not declare `atomicBatch`',
    ],
    [
      "savepoints without transactions",
      () => defineStore({ id: "x", handle: {}, capabilities: { savepoints: true } }),
      "declares `savepoints` without `transactions`",
    ],
    [
      "an unknown capability",
      () => defineStore({ id: "x", handle: {}, capabilities: { twoPhase: true } as never }),
      "unknown capability `twoPhase`",
    ],
    [
      "a capability that is not a boolean",
      () => defineStore({ id: "x", handle: {}, capabilities: { transactions: "yes" } as never }),
      'Expected capability `transactions` of store "x" to be a boolean, got `"yes"` (string).',
    ],
    [
      "apply without affected",
      () => defineStore({ id: "x", handle: {}, apply: async () => 1 } as never),
      "must define `apply` and `affected` together",
    ],
    [
      "an empty id",
      () => defineStore({ id: "", handle: {} }),
      "Expected `store.id` to be a non-empty string",
    ],
  ];

  it.each(refusals)("refuse %s", (_label, define, expected) => {
    expect(define).toThrowError(LockstepDefinitionError);
    expect(define).toThrowError(expected);
  });

  it("ran every refusal case", () => expect(refusals).toHaveLength(7));
});

describe("error normalization", () => {
  it("walks .cause chains to the first error that states its kind", () => {
    const root = new StoreError("conflict", "version moved");
    const wrapped = new Error("step failed", { cause: new Error("driver", { cause: root }) });
    expect(classifyError(wrapped)).toBe(ErrorKind.Conflict);
  });

  it("asks the adapter's classifier at every link", () => {
    const driver = Object.assign(new Error("UNIQUE constraint failed"), {
      code: "SQLITE_CONSTRAINT_UNIQUE",
    });
    const classify = (e: unknown) =>
      (e as { code?: string }).code?.startsWith("SQLITE_CONSTRAINT")
        ? ErrorKind.NotCommitted
        : undefined;
    expect(classifyError(new Error("wrapped", { cause: driver }), classify)).toBe(
      ErrorKind.NotCommitted,
    );
  });

  it("looks inside AggregateError and survives cycles", () => {
    const cyclic: Error & { cause?: unknown } = new Error("a");
    cyclic.cause = cyclic;
    expect(classifyError(cyclic)).toBe(ErrorKind.Unknown);
    expect(
      classifyError(new AggregateError([new Error("x"), new StoreError("transient", "busy")])),
    ).toBe(ErrorKind.Transient);
  });

  it("treats an unrecognized error as unknown, never as not applied", () => {
    expect(classifyError(new Error("ECONNRESET"))).toBe(ErrorKind.Unknown);
    expect(classifyError("a string")).toBe(ErrorKind.Unknown);
  });

  it("recognizes branded errors from another copy of the package", () => {
    const foreign = Object.assign(new Error("x"), {
      kind: "conflict",
      [Symbol.for("lockstep.store-error")]: true,
    });
    expect(StoreError.is(foreign)).toBe(true);
    expect(isLockstepError({ code: "conflict", [Symbol.for("lockstep.error")]: true })).toBe(true);
    expect(isLockstepError({ code: "conflict" })).toBe(false);
  });
});
