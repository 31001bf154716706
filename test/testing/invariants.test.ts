import { describe, expect, it } from "vitest";
import {
  LockstepDefinitionError,
  MemorySagaLog,
  type SagaSnapshot,
  type SagaStatus,
  SCHEMA_VERSION,
  type StepEntry,
} from "../../src/index.js";
import {
  allOrNothing,
  checkInvariants,
  defineInvariant,
  type Invariant,
  type InvariantContext,
  logWellFormed,
  noDoubleCompensation,
  recoveryIdempotent,
  standardInvariants,
  terminalState,
} from "../../src/testing/index.js";

const STEPS = [
  { name: "a", kind: "compensatable", store: "s", probe: true, compensate: true },
  { name: "b", kind: "compensatable", store: "s", probe: true, compensate: true },
  { name: "p", kind: "pivot", store: "s", probe: true, compensate: false },
  { name: "r", kind: "retriable", store: "s", probe: false, compensate: false },
] as const;

type Short = [step: string, type: StepEntry["type"], attempt?: number, token?: number];

function saga(status: SagaStatus, entries: readonly Short[], sagaId = "s-1"): SagaSnapshot {
  return {
    record: {
      schemaVersion: SCHEMA_VERSION,
      sagaId,
      definition: { name: "t", version: 1, steps: STEPS.map((s) => ({ ...s })) },
      input: { id: sagaId },
      status,
      attention: null,
      fencingToken: 1,
      leaseOwner: null,
      leaseExpiresAt: null,
      recoveryAttempts: 0,
      nextRecoveryAt: 0,
      createdAt: 0,
      updatedAt: 0,
    },
    entries: entries.map(([step, type, attempt = 1, token = 1], i) => ({
      schemaVersion: SCHEMA_VERSION,
      sagaId,
      seq: i + 1,
      step,
      type,
      attempt,
      token,
      at: 0,
    })),
  };
}

function context<World>(
  world: World,
  sagas: readonly SagaSnapshot[],
  extra: Partial<InvariantContext<World>> = {},
): InvariantContext<World> {
  return {
    world,
    log: new MemorySagaLog(),
    sagas,
    pass: 1,
    snapshot: "{}",
    previousSnapshot: undefined,
    ...extra,
  };
}

async function check<World>(invariant: Invariant<World>, ctx: InvariantContext<World>) {
  return (await checkInvariants([invariant], ctx)).map((v) => v.message);
}

const COMPLETED: Short[] = [
  ["a", "intent"],
  ["a", "committed"],
  ["b", "intent"],
  ["b", "committed"],
  ["p", "intent"],
  ["p", "committed"],
  ["r", "intent"],
  ["r", "committed"],
];
const COMPENSATED: Short[] = [
  ["a", "intent"],
  ["a", "committed"],
  ["b", "intent"],
  ["b", "committed"],
  ["p", "intent"],
  ["p", "not_committed"],
  ["b", "compensation_intent"],
  ["b", "compensated"],
  ["a", "compensation_intent"],
  ["a", "compensated"],
];

describe("logWellFormed", () => {
  const wellFormed = logWellFormed();

  it("accepts the logs a correct saga writes", async () => {
    expect(await check(wellFormed, context({}, [saga("completed", COMPLETED)]))).toEqual([]);
    expect(await check(wellFormed, context({}, [saga("compensated", COMPENSATED)]))).toEqual([]);
    const nullCompensation: Short[] = [
      ["a", "intent"],
      ["a", "not_committed"],
      ["a", "compensation_skipped"],
    ];
    expect(await check(wellFormed, context({}, [saga("compensated", nullCompensation)]))).toEqual(
      [],
    );
  });

  it.each<[string, SagaStatus, Short[], RegExp]>([
    ["an outcome without its intent", "running", [["a", "committed"]], /has no intent before it/],
    [
      "an outcome of another attempt",
      "running",
      [
        ["a", "intent", 1],
        ["a", "committed", 2],
      ],
      /has no intent before it/,
    ],
    [
      "compensations out of reverse order",
      "compensated",
      [...COMPENSATED.slice(0, 6), ...COMPENSATED.slice(8), ...COMPENSATED.slice(6, 8)],
      /breaks the reverse order of compensation/,
    ],
    [
      "a compensation of a step that never committed",
      "compensating",
      [
        ["a", "intent"],
        ["a", "unknown"],
        ["a", "compensation_intent"],
      ],
      /compensates a step that never committed/,
    ],
    [
      "a compensation after the point of no return",
      "compensating",
      [...COMPLETED.slice(0, 6), ["b", "compensation_intent"]],
      /compensates after the point of no return committed/,
    ],
    [
      "a compensation outcome without its intent",
      "compensated",
      [...COMPENSATED.slice(0, 6), ["b", "compensated"]],
      /has no compensation intent before it/,
    ],
    [
      "a step started after compensation began",
      "compensating",
      [...COMPENSATED.slice(0, 8), ["p", "intent", 2]],
      /starts a step after compensation began/,
    ],
    [
      "a null compensation of a committed step",
      "compensated",
      [
        ["a", "intent"],
        ["a", "committed"],
        ["a", "compensation_skipped"],
      ],
      /skips the compensation of a step that is committed/,
    ],
    [
      "a fencing token going down",
      "running",
      [
        ["a", "intent", 1, 2],
        ["a", "committed", 1, 1],
      ],
      /carries fencing token 1 after token 2/,
    ],
    [
      "a completed saga with a step not committed",
      "completed",
      COMPLETED.slice(0, 6),
      /is completed but step "r" is not started/,
    ],
    [
      "a compensated saga with a step still committed",
      "compensated",
      COMPENSATED.slice(0, 8),
      /is compensated but step "a" is committed/,
    ],
    ["a step the definition lacks", "running", [["zz", "intent"]], /names a step the saga's/],
  ])("rejects %s", async (_name, status, entries, message) => {
    const problems = await check(wellFormed, context({}, [saga(status, entries)]));
    expect(
      problems.some((p) => message.test(p)),
      problems.join("\n"),
    ).toBe(true);
  });

  it("rejects entries not numbered from 1 without gaps", async () => {
    const snapshot = saga("completed", COMPLETED);
    const renumbered = {
      ...snapshot,
      entries: snapshot.entries.map((e, i) => ({ ...e, seq: i === 3 ? 9 : e.seq })),
    };
    expect(await check(wellFormed, context({}, [renumbered]))).toContain(
      'Saga "s-1", entry 9 (committed of "b" attempt 1) is numbered 9, not 4.',
    );
  });
});

describe("noDoubleCompensation", () => {
  it("allows one compensated entry per step and names a second", async () => {
    const once = saga("compensated", COMPENSATED);
    expect(await check(noDoubleCompensation(), context({}, [once]))).toEqual([]);
    const twice = saga("compensated", [
      ...COMPENSATED,
      ["a", "compensation_intent", 2],
      ["a", "compensated", 2],
    ]);
    expect(await check(noDoubleCompensation(), context({}, [twice]))).toEqual([
      'Step "a" of saga "s-1" was compensated 2 times.',
    ]);
  });
});

describe("terminalState", () => {
  it("names every saga left running, compensating or in doubt", async () => {
    const sagas = [saga("completed", [], "s-1"), saga("in_doubt", [], "s-2")];
    expect(await check(terminalState(), context({}, sagas))).toEqual([
      'Saga "s-2" is in_doubt, not one of completed, compensated, needs_attention, quarantined.',
    ]);
    const strict = terminalState({ statuses: ["completed", "compensated"] });
    expect(await check(strict, context({}, [saga("needs_attention", [])]))).toHaveLength(1);
    expect(() => terminalState({ statuses: ["done" as SagaStatus] })).toThrow(
      LockstepDefinitionError,
    );
  });
});

describe("allOrNothing", () => {
  interface World {
    readonly present: Record<string, boolean>;
  }
  const atomic = allOrNothing<World>({
    funds: (w) => w.present.funds === true,
    orders: (w) => w.present.orders === true,
  });
  const world = (funds: boolean, orders: boolean): World => ({ present: { funds, orders } });

  it("accepts all or nothing, in agreement with how the saga ended", async () => {
    expect(await check(atomic, context(world(true, true), [saga("completed", COMPLETED)]))).toEqual(
      [],
    );
    expect(
      await check(atomic, context(world(false, false), [saga("compensated", COMPENSATED)])),
    ).toEqual([]);
    expect(await check(atomic, context(world(false, false), []))).toEqual([]);
  });

  it("names a partial state and a state that disagrees with the saga's status", async () => {
    expect(
      await check(atomic, context(world(true, false), [saga("completed", COMPLETED)])),
    ).toEqual([
      'Saga "s-1" (completed) left a partial state: present in funds, absent from orders.',
    ]);
    expect(
      await check(atomic, context(world(true, true), [saga("compensated", COMPENSATED)])),
    ).toEqual([
      'Saga "s-1" (compensated) has effects present in funds, orders, absent from none; none were expected.',
    ]);
    expect(await check(atomic, context(world(true, true), []))).toHaveLength(1);
  });

  it("accepts a partial state a saga handed to a person, unless told otherwise", async () => {
    const attention = [saga("needs_attention", COMPENSATED)];
    expect(await check(atomic, context(world(true, false), attention))).toEqual([]);
    const strict = allOrNothing<World>(
      { funds: (w) => w.present.funds === true, orders: (w) => w.present.orders === true },
      { partialWhen: [] },
    );
    expect(await check(strict, context(world(true, false), attention))).toHaveLength(1);
  });

  it("needs two parts", () => {
    expect(() => allOrNothing({ only: () => true })).toThrow(LockstepDefinitionError);
  });
});

describe("recoveryIdempotent", () => {
  it("compares the state after a pass with the state after the pass before", async () => {
    const same = context({}, [], { pass: 2, snapshot: '{"a":1}', previousSnapshot: '{"a":1}' });
    expect(await check(recoveryIdempotent(), same)).toEqual([]);
    const first = context({}, [], { pass: 1, snapshot: '{"a":2}' });
    expect(await check(recoveryIdempotent(), first)).toEqual([]);
    const changed = context({}, [], { pass: 2, snapshot: '{"a":2}', previousSnapshot: '{"a":1}' });
    const [message] = await check(recoveryIdempotent(), changed);
    expect(message).toMatch(/^Recovery pass 2 changed durable state that pass 1 had left: before/);
  });
});

describe("checkInvariants and defineInvariant", () => {
  it("turns a check that throws into a violation, and lists every standard invariant", async () => {
    const throwing = defineInvariant("throws", () => {
      throw new Error("expected 1 to be 2");
    });
    expect(await checkInvariants([throwing], context({}, []))).toEqual([
      { invariant: "throws", message: "its check threw: expected 1 to be 2", pass: 1 },
    ]);
    expect(standardInvariants().map((i) => i.name)).toEqual([
      "terminal state",
      "log well-formed",
      "no compensation applied twice",
      "recovery is idempotent",
    ]);
    expect(() => defineInvariant(" padded ", () => undefined)).toThrow(LockstepDefinitionError);
  });
});
