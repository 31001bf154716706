import { describe, expect, it } from "vitest";
import { createMemoryStore, memoryPut } from "../../src/adapters/memory/index.js";
import { ErrorCode, runAtomic } from "../../src/index.js";

/**
 * The `signal` option is checked before anything is written: an `AbortSignal`, or an object from
 * another realm or a polyfill with a boolean `aborted` and the listener methods lockstep calls.
 */
function transfer(signal: unknown) {
  const store = createMemoryStore({ tier: "transactional" });
  const result = runAtomic(
    store,
    [{ name: "put", build: () => memoryPut("k", { v: 1 }, "absent") }],
    {
      signal: signal as AbortSignal,
    },
  );
  return { store, result };
}

/** A signal as a polyfill or another realm gives it: not an instance of this realm's AbortSignal. */
function signalLike(overrides: Record<string, unknown> = {}) {
  const listeners = new Set<() => void>();
  const signal = {
    aborted: false,
    reason: undefined as unknown,
    addEventListener: (_type: string, listener: () => void) => listeners.add(listener),
    removeEventListener: (_type: string, listener: () => void) => listeners.delete(listener),
    listening: () => listeners.size,
    ...overrides,
  };
  return signal;
}

describe("the signal option", () => {
  it("takes this realm's AbortSignal", async () => {
    const { store, result } = transfer(new AbortController().signal);
    expect((await result).isOk()).toBe(true);
    expect(Object.keys(store.snapshot())).toEqual(["k"]);
  });

  it("takes a signal-like object that is not an AbortSignal instance, and stops listening to it", async () => {
    const signal = signalLike();
    expect(signal instanceof AbortSignal).toBe(false);
    const { store, result } = transfer(signal);
    expect((await result).isOk()).toBe(true);
    expect(Object.keys(store.snapshot())).toEqual(["k"]);
    expect(signal.listening()).toBe(0);
  });

  const refused: [string, unknown, RegExp][] = [
    ["a string", "stop", /got `"stop"` \(string\)/],
    ["a number", 5, /got `5` \(number\)/],
    ["null", null, /got `null` \(null\)/],
    ["a function", () => undefined, /\(function\)/],
    ["an object without aborted", signalLike({ aborted: undefined }), /\(object\)/],
    ["an object whose aborted is not a boolean", signalLike({ aborted: "no" }), /\(object\)/],
    [
      "an object without addEventListener",
      signalLike({ addEventListener: undefined }),
      /\(object\)/,
    ],
    ["an object without removeEventListener", signalLike({ removeEventListener: 1 }), /\(object\)/],
  ];

  it.each(refused)("refuses %s before writing, naming it", async (_what, signal, named) => {
    const { store, result } = transfer(signal);
    const error = (await result)._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toMatch(/^Expected `signal` to be an AbortSignal, got /);
    expect(error.message).toMatch(named);
    expect(error.message).toMatch(/Nothing was written\.$/);
    expect(store.snapshot()).toEqual({});
    expect(store.writeCount).toBe(0);
  });

  it("ran every refusal", () => {
    expect(refused).toHaveLength(8);
  });
});
