import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  committed,
  compensated,
  createRunner,
  defineSaga,
  defineStore,
  ErrorCode,
  isWriteStore,
  StoreError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { definitionError } from "./fixtures/definition-error.js";

/**
 * What a person reads when a saga or store definition is refused: a LockstepDefinitionError whose
 * sentence names the option (with the saga and step it belongs to) and shows the value given.
 */
const store = createMemoryStore({ tier: "plain" });
const out = z.object({ ok: z.boolean() });
const exec = async () => ({ ok: true });
const probe = async () => committed({ ok: true });
const comp = async () => compensated();
const base = () => defineSaga("s", { input: z.object({}) });
const retriable = (extra: Record<string, unknown>) =>
  base().step("a", { store, kind: "retriable", output: out, execute: exec, ...extra } as never);

describe("a saga's own options", () => {
  it("needs an input schema, naming what it got instead", () => {
    expect(definitionError(() => defineSaga("orders", {} as never))).toBe(
      'Saga "orders" needs an `input` zod schema, got `undefined` (undefined).',
    );
    expect(definitionError(() => defineSaga("orders", undefined as never))).toBe(
      'Saga "orders" needs an `input` zod schema, got `undefined` (undefined).',
    );
    expect(
      definitionError(() => defineSaga("orders", { input: { parse: () => 1 } } as never)),
    ).toBe('Saga "orders" needs an `input` zod schema, got `[object Object]` (object).');
  });

  it("needs a version that is an integer of at least 1", () => {
    expect(definitionError(() => defineSaga("orders", { input: z.object({}), version: 0 }))).toBe(
      'Expected `saga "orders" version` to be an integer >= 1, got `0` (number).',
    );
    expect(definitionError(() => defineSaga("orders", { input: z.object({}), version: 1.5 }))).toBe(
      'Expected `saga "orders" version` to be an integer >= 1, got `1.5` (number).',
    );
    expect(defineSaga("orders", { input: z.object({}), version: 1 })).toBeDefined();
  });

  it("takes only the two recovery policies", () => {
    expect(
      definitionError(() =>
        defineSaga("orders", { input: z.object({}), recovery: "retry" as never }),
      ),
    ).toBe(
      'Expected the recovery of saga "orders" to be "compensate" or "roll_forward", got `"retry"` (string).',
    );
    for (const recovery of ["compensate", "roll_forward"] as const) {
      const saga = defineSaga("orders", { input: z.object({}), recovery })
        .step("a", { store, kind: "retriable", output: out, execute: exec })
        .build();
      expect(saga.recovery).toBe(recovery);
    }
  });
});

describe("a saga's forward-only part", () => {
  it("is empty for a saga of compensatable steps only: a failure anywhere unwinds it", async () => {
    const clock = new VirtualClock();
    const undone: string[] = [];
    const hold = (name: string, fail: boolean) => ({
      store,
      kind: "compensatable" as const,
      output: out,
      execute: async () => {
        if (fail) throw new StoreError("not_committed", `${name} was refused`);
        return { ok: true };
      },
      probe,
      compensate: async () => {
        undone.push(name);
        return compensated();
      },
    });
    const saga = base().step("a", hold("a", false)).step("b", hold("b", true)).build();
    expect(saga.forwardFrom).toBe(2);
    const error = (await clock.run(createRunner({ clock }).run(saga, {})))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    expect(undone).toEqual(["a"]);
  });
});

describe("a step's configuration", () => {
  it("needs a step name, naming the saga", () => {
    expect(definitionError(() => base().step("", {} as never))).toBe(
      'Expected `step name in saga "s"` to be a non-empty string without leading or trailing spaces, got `""` (string).',
    );
    expect(definitionError(() => base().step(7 as never, {} as never))).toBe(
      'Expected `step name in saga "s"` to be a non-empty string without leading or trailing spaces, got `7` (number).',
    );
  });

  it("must be an object", () => {
    expect(definitionError(() => base().step("a", null as never))).toBe(
      'Expected the configuration of step "a" of saga "s" to be an object, got `null` (null).',
    );
    expect(definitionError(() => base().step("a", "retriable" as never))).toBe(
      'Expected the configuration of step "a" of saga "s" to be an object, got `"retriable"` (string).',
    );
  });

  it("needs a store made by defineStore", () => {
    const expected = (got: string) =>
      `Expected the store of step "a" of saga "s" to be a store made by defineStore, got ${got}.`;
    expect(definitionError(() => retriable({ store: undefined }))).toBe(
      expected("`undefined` (undefined)"),
    );
    expect(definitionError(() => retriable({ store: { id: "x" } }))).toBe(
      expected("`[object Object]` (object)"),
    );
    expect(definitionError(() => retriable({ store: { capabilities: {} } }))).toBe(
      expected("`[object Object]` (object)"),
    );
    expect(definitionError(() => retriable({ store: { id: 3, capabilities: {} } }))).toBe(
      expected("`[object Object]` (object)"),
    );
  });

  it("needs an output schema", () => {
    expect(definitionError(() => retriable({ output: undefined }))).toBe(
      'Expected the output of step "a" of saga "s" to be a zod schema, got `undefined` (undefined).',
    );
  });

  it("needs each of its functions to be a function, naming it", () => {
    expect(definitionError(() => retriable({ execute: undefined }))).toBe(
      'Expected `step "a" of saga "s": execute` to be a function, got `undefined` (undefined).',
    );
    expect(
      definitionError(() =>
        base().step("p", {
          store,
          kind: "pivot",
          output: out,
          execute: exec,
          probe: "yes",
        } as never),
      ),
    ).toBe('Expected `step "p" of saga "s": probe` to be a function, got `"yes"` (string).');
    expect(
      definitionError(() =>
        base().step("c", {
          store,
          kind: "compensatable",
          output: out,
          execute: exec,
          probe,
          compensate: 5,
        } as never),
      ),
    ).toBe('Expected `step "c" of saga "s": compensate` to be a function, got `5` (number).');
    expect(definitionError(() => retriable({ publish: "orders" }))).toBe(
      'Expected `step "a" of saga "s": publish` to be a function, got `"orders"` (string).',
    );
  });

  it("takes `idempotent` only as a boolean", () => {
    expect(definitionError(() => retriable({ idempotent: "yes" }))).toBe(
      'Expected `idempotent` of step "a" of saga "s" to be a boolean, got `"yes"` (string).',
    );
    const saga = retriable({ idempotent: false }).build();
    expect(saga.steps[0]?.idempotent).toBe(false);
    expect(retriable({ idempotent: true }).build().steps[0]?.idempotent).toBe(true);
  });

  it("names a compensatable step after a retriable one, and the retriable step", () => {
    expect(
      definitionError(() =>
        base().step("r", { store, kind: "retriable", output: out, execute: exec }).step("c", {
          store,
          kind: "compensatable",
          output: out,
          execute: exec,
          probe,
          compensate: comp,
        }),
      ),
    ).toBe(
      'Step "c" of saga "s" is compensatable but comes after the retriable step "r"; compensatable steps must come before the pivot and before any retriable step.',
    );
  });
});

describe("a retry policy", () => {
  const where = 'step "a" of saga "s": retry';

  it("needs attempts to be an integer of at least 1", () => {
    expect(definitionError(() => retriable({ retry: { attempts: 0 } }))).toBe(
      `Expected \`${where}.attempts\` to be an integer >= 1, got \`0\` (number).`,
    );
    expect(retriable({ retry: { attempts: 1 } }).build().steps[0]?.retry).toEqual({ attempts: 1 });
  });

  it("needs a finite factor of at least 1", () => {
    const message = (got: string) =>
      `Expected \`${where}.factor\` to be a finite number >= 1, got ${got}.`;
    expect(definitionError(() => retriable({ retry: { factor: 0.5 } }))).toBe(
      message("`0.5` (number)"),
    );
    expect(definitionError(() => retriable({ retry: { factor: Number.POSITIVE_INFINITY } }))).toBe(
      message("`Infinity` (number)"),
    );
    expect(definitionError(() => retriable({ retry: { factor: "2" } }))).toBe(
      message('`"2"` (string)'),
    );
    expect(definitionError(() => retriable({ retry: { factor: Number.NaN } }))).toBe(
      message("`NaN` (number)"),
    );
    expect(() => retriable({ retry: { factor: 1 } })).not.toThrow();
  });

  it("needs a jitter from 0 to 1, both ends included", () => {
    const message = (got: string) =>
      `Expected \`${where}.jitter\` to be a number from 0 to 1, got ${got}.`;
    expect(definitionError(() => retriable({ retry: { jitter: -0.1 } }))).toBe(
      message("`-0.1` (number)"),
    );
    expect(definitionError(() => retriable({ retry: { jitter: 1.5 } }))).toBe(
      message("`1.5` (number)"),
    );
    expect(definitionError(() => retriable({ retry: { jitter: "0.5" } }))).toBe(
      message('`"0.5"` (string)'),
    );
    expect(() => retriable({ retry: { jitter: 0 } })).not.toThrow();
    expect(() => retriable({ retry: { jitter: 1 } })).not.toThrow();
  });

  it("retries only on known error kinds, given as a list", () => {
    const message = (got: string) =>
      `Expected \`${where}.retryOn\` to be a list of error kinds (not_committed, conflict, transient, unknown, timeout), got ${got}.`;
    expect(definitionError(() => retriable({ retry: { retryOn: "transient" } }))).toBe(
      message('`"transient"` (string)'),
    );
    expect(definitionError(() => retriable({ retry: { retryOn: ["transient", "flaky"] } }))).toBe(
      message("`transient,flaky` (array)"),
    );
    expect(() => retriable({ retry: { retryOn: ["transient", "conflict"] } })).not.toThrow();
    expect(() => retriable({ retry: { retryOn: [] } })).not.toThrow();
  });
});

describe("values shown in messages", () => {
  it("show a value String() cannot convert by its type tag", () => {
    expect(definitionError(() => retriable({ idempotent: Object.create(null) }))).toBe(
      'Expected `idempotent` of step "a" of saga "s" to be a boolean, got `[object Object]` (object).',
    );
  });

  it("shorten a value longer than 60 characters to 57 and an ellipsis", () => {
    const at60 = "x".repeat(58); // shown with its quotes: 60 characters, kept whole
    expect(definitionError(() => retriable({ idempotent: at60 }))).toContain(
      `got \`"${at60}"\` (string).`,
    );
    const at61 = "y".repeat(59);
    expect(definitionError(() => retriable({ idempotent: at61 }))).toContain(
      `got \`"${"y".repeat(56)}...\` (string).`,
    );
  });
});

describe("a store's definition", () => {
  it("needs its transaction or batch method to be a function", () => {
    expect(
      definitionError(() =>
        defineStore({
          id: "ledger",
          handle: {},
          capabilities: { transactions: true },
          transaction: "begin" as never,
        }),
      ),
    ).toBe('Expected `ledger.transaction` to be a function, got `"begin"` (string).');
  });

  it("needs its deferredBatch method to be a function", () => {
    expect(
      definitionError(() =>
        defineStore({
          id: "ledger",
          handle: {},
          capabilities: { atomicBatch: true },
          batch: async () => [],
          deferredBatch: 1 as never,
        }),
      ),
    ).toBe("Expected `ledger.deferredBatch` to be a function, got `1` (number).");
  });

  it("lists the known capabilities when it declares an unknown one", () => {
    expect(
      definitionError(() =>
        defineStore({ id: "ledger", handle: {}, capabilities: { twoPhase: true } as never }),
      ),
    ).toBe(
      'Store "ledger" declares an unknown capability `twoPhase`; known capabilities are transactions, atomicBatch, conditionalWrite, savepoints, versionsNeverReused.',
    );
  });

  it("keeps its key window only when it declares one", () => {
    const windowed = defineStore({ id: "api", handle: {}, keyWindowMs: 86_400_000 });
    expect(windowed.keyWindowMs).toBe(86_400_000);
    const plain = defineStore({ id: "db", handle: {} });
    expect("keyWindowMs" in plain).toBe(false);
  });

  it("refuses a key window that is not a whole number of milliseconds of at least 1", () => {
    const message = (got: string) =>
      `Expected \`keyWindowMs\` of store "api" to be a whole number of milliseconds >= 1 (how long the provider remembers an idempotency key), got ${got}.`;
    expect(definitionError(() => defineStore({ id: "api", handle: {}, keyWindowMs: 0 }))).toBe(
      message("`0` (number)"),
    );
    expect(definitionError(() => defineStore({ id: "api", handle: {}, keyWindowMs: 2.5 }))).toBe(
      message("`2.5` (number)"),
    );
    expect(
      definitionError(() => defineStore({ id: "api", handle: {}, keyWindowMs: "1" as never })),
    ).toBe(message('`"1"` (string)'));
    expect(defineStore({ id: "api", handle: {}, keyWindowMs: 1 }).keyWindowMs).toBe(1);
  });

  it("is a write store only with both apply and affected", () => {
    const plain = defineStore({ id: "db", handle: {} });
    expect(isWriteStore(plain)).toBe(false);
    const writes = defineStore({
      id: "db",
      handle: {},
      apply: async () => 1,
      affected: (n: number) => n,
    });
    expect(isWriteStore(writes)).toBe(true);
    // Objects not made by defineStore, as a caller may hold them: half a write store is none.
    expect(isWriteStore({ ...plain, apply: async () => 1 } as never)).toBe(false);
    expect(isWriteStore({ ...plain, affected: () => 1 } as never)).toBe(false);
  });
});
