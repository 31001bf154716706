import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  committed,
  compensated,
  createRecoverer,
  createRunner,
  defineSaga,
  MemorySagaLog,
} from "../../src/index.js";
import { createRelay } from "../../src/outbox/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { definitionError } from "./fixtures/definition-error.js";

/**
 * A retry policy is spread over its defaults. Without a check of its shape, a number, a string, null
 * or a misspelt field would be taken, silently, for the defaults: every place a retry policy is
 * given refuses them instead, naming the value.
 */
const FIELDS = "attempts, initialDelayMs, maxDelayMs, factor, jitter, retryOn";
const QUOTED = "`attempts`, `initialDelayMs`, `maxDelayMs`, `factor`, `jitter`, `retryOn`";

const store = createMemoryStore({ tier: "plain" });
const out = z.object({ ok: z.boolean() });

function sagaWith(step: Record<string, unknown>) {
  return defineSaga("s", { input: z.object({}) }).step("a", {
    store,
    kind: "compensatable",
    output: out,
    execute: async () => ({ ok: true }),
    probe: async () => committed({ ok: true }),
    compensate: async () => compensated(),
    ...step,
  } as never);
}

describe("a step's retry policy", () => {
  const where = 'step "a" of saga "s": retry';

  it("refuses a value that is not an object of retry settings, naming it", () => {
    const cases: [unknown, string][] = [
      [5, "`5` (number)"],
      ["fast", '`"fast"` (string)'],
      [null, "`null` (null)"],
      [[3], "`3` (array)"],
    ];
    for (const [retry, got] of cases) {
      expect(definitionError(() => sagaWith({ retry }))).toBe(
        `Expected \`${where}\` to be an object of retry settings (${FIELDS}), each optional, got ${got}.`,
      );
    }
    expect(cases).toHaveLength(4);
  });

  it("refuses a field it does not know, such as a misspelt one", () => {
    expect(definitionError(() => sagaWith({ retry: { attemps: 5 } }))).toBe(
      `Expected \`${where}\` to have only ${QUOTED}, got \`attemps\`.`,
    );
  });

  it("takes an empty object, or any of its fields, as before", () => {
    expect(sagaWith({ retry: {} }).build().steps[0]?.retry).toEqual({});
    const retry = { attempts: 2, initialDelayMs: 0, maxDelayMs: 0, factor: 1, jitter: 0 };
    expect(sagaWith({ retry: { ...retry, retryOn: ["transient"] } }).build()).toBeDefined();
  });
});

describe("a runner's retry and compensation policies", () => {
  const clock = new VirtualClock();

  it("refuses a runner retry that is not an object of retry settings", () => {
    expect(definitionError(() => createRunner({ clock, retry: 3 as never }))).toBe(
      `Expected \`retry\` to be an object of retry settings (${FIELDS}), each optional, got \`3\` (number).`,
    );
    expect(definitionError(() => createRunner({ clock, retry: { delay: 10 } as never }))).toBe(
      `Expected \`retry\` to have only ${QUOTED}, got \`delay\`.`,
    );
  });

  it("refuses a compensation retry of null or a number, on the runner and on a step", () => {
    expect(
      definitionError(() => createRunner({ clock, compensation: { retry: null } as never })),
    ).toBe(
      `Expected \`compensation.retry\` to be an object of retry settings (${FIELDS}), each optional, got \`null\` (null).`,
    );
    expect(definitionError(() => sagaWith({ compensation: { retry: 5 } }))).toBe(
      `Expected \`step "a" of saga "s": compensation.retry\` to be an object of retry settings (${FIELDS}), each optional, got \`5\` (number).`,
    );
  });
});

describe("a recoverer's backoff", () => {
  const runner = createRunner({ clock: new VirtualClock() });
  const saga = sagaWith({}).build();

  it("refuses a backoff that is not an object, naming it", () => {
    expect(
      definitionError(() => createRecoverer({ runner, sagas: [saga], backoff: 1_000 as never })),
    ).toBe(
      "Expected `backoff` to be an object of retry settings (initialDelayMs, maxDelayMs, factor, jitter), each optional, got `1000` (number).",
    );
  });

  it("refuses attempts in the backoff, which maxAttempts sets, and any other field", () => {
    const fields = "`initialDelayMs`, `maxDelayMs`, `factor`, `jitter`";
    expect(
      definitionError(() =>
        createRecoverer({ runner, sagas: [saga], backoff: { attempts: 3 } as never }),
      ),
    ).toBe(`Expected \`backoff\` to have only ${fields}, got \`attempts\`.`);
    expect(
      definitionError(() =>
        createRecoverer({ runner, sagas: [saga], backoff: { retryOn: [] } as never }),
      ),
    ).toBe(`Expected \`backoff\` to have only ${fields}, got \`retryOn\`.`);
    expect(
      createRecoverer({ runner, sagas: [saga], backoff: { initialDelayMs: 10, jitter: 0 } }),
    ).toBeDefined();
  });
});

describe("a relay's retry", () => {
  const log = new MemorySagaLog();
  const publisher = { name: "fake", publish: async () => undefined };
  const fields = "`attempts`, `initialDelayMs`, `maxDelayMs`, `factor`, `jitter`";

  it("refuses a retry that is not an object, or that sets which failures it retries", () => {
    expect(definitionError(() => createRelay({ log, publisher, retry: 10 as never }))).toBe(
      "Expected `retry` to be an object of retry settings (attempts, initialDelayMs, maxDelayMs, factor, jitter), each optional, got `10` (number).",
    );
    expect(
      definitionError(() =>
        createRelay({ log, publisher, retry: { retryOn: ["transient"] } as never }),
      ),
    ).toBe(`Expected \`retry\` to have only ${fields}, got \`retryOn\`.`);
    expect(createRelay({ log, publisher, retry: { attempts: 2 } })).toBeDefined();
  });
});
