import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore, memoryPut } from "../../src/adapters/memory/index.js";
import {
  createRecoverer,
  createRunner,
  defineSaga,
  ErrorCode,
  LockstepDefinitionError,
  runAtomic,
} from "../../src/index.js";

/**
 * Node's timers (and the browsers' and workerd's) hold a signed 32-bit delay: anything above
 * 2^31 − 1 ms fires after about 1 ms, so a step given a day and a half "timed out" after 20 ms.
 * Every duration lockstep accepts is refused above that bound, naming the option and the value.
 */
const MAX = 2_147_483_647;
const TOO_LONG = 3_000_000_000;

const store = createMemoryStore({ tier: "plain" });
const out = z.object({ ok: z.boolean() });
const exec = async () => ({ ok: true });

function definitionError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(LockstepDefinitionError.is(error), String(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error("expected a definition error, but the value was accepted");
}

/** Defines step "a" of saga "s" with `extra` on top of a valid configuration. */
const stepWith = (extra: { timeoutMs?: number; probeTimeoutMs?: number; retry?: object }) =>
  defineSaga("s", { input: z.object({}) }).step("a", {
    store,
    kind: "retriable",
    output: out,
    execute: exec,
    ...extra,
  });

const range = (name: string, value: number, min = 1) =>
  `Expected \`${name}\` to be an integer from ${min} to ${MAX}, got \`${value}\` (number).`;

describe("durations above 2^31 − 1 ms are refused where they are accepted", () => {
  const definitions: [string, () => unknown, string][] = [
    ["runner timeoutMs", () => createRunner({ timeoutMs: TOO_LONG }), range("timeoutMs", TOO_LONG)],
    [
      "runner leaseTtlMs",
      () => createRunner({ leaseTtlMs: MAX + 1 }),
      range("leaseTtlMs", MAX + 1),
    ],
    [
      "runner retry.initialDelayMs",
      () => createRunner({ retry: { initialDelayMs: TOO_LONG } }),
      range("retry.initialDelayMs", TOO_LONG, 0),
    ],
    [
      "runner retry.maxDelayMs",
      () => createRunner({ retry: { maxDelayMs: TOO_LONG } }),
      range("retry.maxDelayMs", TOO_LONG, 0),
    ],
    [
      "step timeoutMs",
      () => stepWith({ timeoutMs: TOO_LONG }),
      range('step "a" of saga "s": timeoutMs', TOO_LONG),
    ],
    [
      "step probeTimeoutMs",
      () => stepWith({ probeTimeoutMs: TOO_LONG }),
      range('step "a" of saga "s": probeTimeoutMs', TOO_LONG),
    ],
    [
      "step retry.maxDelayMs",
      () => stepWith({ retry: { maxDelayMs: TOO_LONG } }),
      range('step "a" of saga "s": retry.maxDelayMs', TOO_LONG, 0),
    ],
    [
      "recoverer backoff.maxDelayMs",
      () =>
        createRecoverer({ runner: createRunner(), sagas: [], backoff: { maxDelayMs: TOO_LONG } }),
      range("backoff.maxDelayMs", TOO_LONG, 0),
    ],
    [
      "recoverer backoff.initialDelayMs",
      () =>
        createRecoverer({
          runner: createRunner(),
          sagas: [],
          backoff: { initialDelayMs: TOO_LONG },
        }),
      range("backoff.initialDelayMs", TOO_LONG, 0),
    ],
  ];

  for (const [what, define, message] of definitions) {
    it(`${what}: a definition error naming the value`, () => {
      expect(definitionError(define)).toBe(message);
    });
  }

  it("covers every entry point listed", () => {
    // An enumeration that silently lost cases would pass vacuously.
    expect(definitions).toHaveLength(9);
  });

  it("runAtomic timeoutMs: an invalid_options result naming the option and the value", async () => {
    const result = await runAtomic(store, [{ name: "w", build: () => memoryPut("x", 1) }], {
      timeoutMs: TOO_LONG,
    });
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toBe(range("timeoutMs", TOO_LONG));
    if (error.code === ErrorCode.InvalidOptions) expect(error.option).toBe("timeoutMs");
    expect(store.snapshot().x, "a refused runAtomic wrote anyway").toBeUndefined();
  });

  it("accepts the bound itself, and a retry delay of zero", async () => {
    expect(() =>
      createRunner({ timeoutMs: MAX, leaseTtlMs: MAX, retry: { initialDelayMs: 0 } }),
    ).not.toThrow();
    const saga = defineSaga("bound", { input: z.object({}) })
      .step("a", { store, kind: "retriable", output: out, execute: exec, timeoutMs: MAX })
      .build();
    const report = (await createRunner().run(saga, {}))._unsafeUnwrap();
    // A timer that overflowed would have fired at once and timed the step out.
    expect(report.status).toBe("completed");
  });

  it("still refuses fractions, zero and non-numbers with the same message", () => {
    expect(definitionError(() => createRunner({ timeoutMs: 0 }))).toBe(range("timeoutMs", 0));
    expect(definitionError(() => createRunner({ leaseTtlMs: 1.5 }))).toBe(range("leaseTtlMs", 1.5));
    expect(definitionError(() => createRunner({ timeoutMs: "10" as never }))).toBe(
      `Expected \`timeoutMs\` to be an integer from 1 to ${MAX}, got \`"10"\` (string).`,
    );
  });
});
