import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type AttemptFence,
  assertExplained,
  committed,
  compensated,
  createRunner,
  defineSaga,
  defineStore,
  explain,
  LockstepDefinitionError,
  MemorySagaLog,
  type Saga,
  type StepStore,
} from "../../src/index.js";

type Kind = "compensatable" | "pivot" | "retriable";

interface Caps {
  transactions?: boolean;
  conditionalWrite?: boolean;
  versionsNeverReused?: boolean;
}

/** A store with the given capabilities and fence; its transaction runs the work on the root handle. */
function store(id: string, capabilities: Caps, fence?: AttemptFence) {
  return defineStore({
    id,
    handle: {},
    capabilities,
    ...(capabilities.transactions
      ? { transaction: <T>(work: (tx: object) => Promise<T>) => work({}) }
      : {}),
    ...(fence === undefined ? {} : { fence }),
  }) as StepStore<unknown>;
}

/** A store on the log's database that commits through deferred atomic batches (as D1 does). */
function batchStore(id: string) {
  return defineStore({
    id,
    handle: {},
    capabilities: { atomicBatch: true, conditionalWrite: true, versionsNeverReused: true },
    batch: async (writes: readonly unknown[]) => writes.map(() => ({})),
    deferredBatch: <T>(work: (batch: object) => Promise<T>) => work({}),
  }) as StepStore<unknown>;
}

interface StepSpec {
  name: string;
  kind: Kind;
  store: StepStore<unknown>;
  probe?: boolean;
  publish?: boolean;
  attempts?: number;
}

/** A saga of steps that do nothing; retriable steps get a probe only when asked (else idempotent). */
function sagaOf(
  steps: readonly StepSpec[],
  recovery: "compensate" | "roll_forward" = "compensate",
) {
  // biome-ignore lint/suspicious/noExplicitAny: the builder's type grows with each step.
  let builder: any = defineSaga("plan", { input: z.object({}), recovery });
  for (const step of steps) {
    const probed = step.kind !== "retriable" || step.probe === true;
    builder = builder.step(step.name, {
      store: step.store,
      kind: step.kind,
      output: z.object({}),
      execute: () => ({}),
      ...(probed ? { probe: () => committed({}) } : { idempotent: true }),
      ...(step.kind === "compensatable" ? { compensate: () => compensated() } : {}),
      ...(step.publish ? { publish: () => [{ topic: "t", message: {} }] } : {}),
      ...(step.attempts === undefined ? {} : { retry: { attempts: step.attempts } }),
    });
  }
  return builder.build() as Saga;
}

const LOG_STORE = "db:main";
const coCommitLog = { coCommit: { storeId: LOG_STORE, write: async () => {} }, durable: true };

const KILLED = { mode: "kill_and_wait" } as const;
const KILL_WORDS =
  "A timed-out attempt is ended for certain (its store stops the work and waits for it to stop) before its probe's answer is trusted.";
const PROBED =
  "Its intent and idempotency key are logged before execute runs; an outcome the runner cannot see is settled by its probe before anything is undone.";
const BY_KEY =
  "Its intent and idempotency key are logged before execute runs; an outcome the runner cannot see is settled by executing it again with the same key.";
const GUARDED_UNDO =
  " If the saga stops before its point of no return, its guarded compensation undoes it, unless the guard finds state it did not write (then the saga needs attention).";
const UNGUARDED_UNDO =
  " If the saga stops before its point of no return, its compensation undoes it, but its store declares no compare-and-set to guard that undo.";
const PIVOT = " It is the point of no return: once it commits, the saga only moves forward.";
const AFTER_PIVOT =
  " It runs after the point of no return and is retried until it commits; it is never undone.";
const ROLLS_FORWARD =
  " A transient failure of a later step does not unwind it: the saga rolls forward.";

describe("explain: each step's guarantee, in words", () => {
  const sound = store("svc:sound", { conditionalWrite: true, versionsNeverReused: true }, KILLED);
  const casless = store("svc:casless", {}, KILLED);

  it("a probed compensatable step, the pivot and a step after it", () => {
    const plan = explain(
      sagaOf([
        { name: "hold", kind: "compensatable", store: sound },
        { name: "charge", kind: "pivot", store: sound },
        { name: "notify", kind: "retriable", store: sound },
        { name: "audit", kind: "retriable", store: sound, probe: true },
      ]),
    );
    expect(plan.steps.map((s) => s.guarantee)).toEqual([
      `${PROBED}${GUARDED_UNDO} ${KILL_WORDS}`,
      `${PROBED}${PIVOT} ${KILL_WORDS}`,
      `${BY_KEY}${AFTER_PIVOT}`,
      `${PROBED}${AFTER_PIVOT} ${KILL_WORDS}`,
    ]);
  });

  it("a compensatable step on a store without compare-and-set says its undo is unguarded", () => {
    const plan = explain(
      sagaOf([
        { name: "hold", kind: "compensatable", store: casless },
        { name: "charge", kind: "pivot", store: casless },
      ]),
    );
    expect(plan.steps[0]?.guarantee).toBe(`${PROBED}${UNGUARDED_UNDO} ${KILL_WORDS}`);
  });

  it("a saga that rolls forward says so of each compensatable step, and only of those", () => {
    const plan = explain(
      sagaOf(
        [
          { name: "hold", kind: "compensatable", store: sound },
          { name: "charge", kind: "pivot", store: sound },
          { name: "notify", kind: "retriable", store: sound },
        ],
        "roll_forward",
      ),
    );
    expect(plan.steps.map((s) => s.guarantee)).toEqual([
      `${PROBED}${GUARDED_UNDO}${ROLLS_FORWARD} ${KILL_WORDS}`,
      `${PROBED}${PIVOT} ${KILL_WORDS}`,
      `${BY_KEY}${AFTER_PIVOT}`,
    ]);
  });

  it("a saga without a pivot: its first retriable step already runs past the point of no return", () => {
    const plan = explain(
      sagaOf([
        { name: "hold", kind: "compensatable", store: sound },
        { name: "notify", kind: "retriable", store: sound },
      ]),
    );
    expect(plan.steps[1]?.guarantee).toBe(`${BY_KEY}${AFTER_PIVOT}`);
  });

  it("a step on another store than the log's, without transactions, is not said to share the log's database", () => {
    for (const log of [undefined, coCommitLog]) {
      const plan = explain(
        sagaOf([
          { name: "hold", kind: "compensatable", store: casless },
          { name: "charge", kind: "pivot", store: store(LOG_STORE, { transactions: true }) },
        ]),
        log === undefined ? {} : { log },
      );
      expect(plan.steps[0]?.guarantee).not.toContain("shares the log's database");
    }
  });

  it("a step alone in its transaction, and one sharing it, say what lands together", () => {
    const main = store(LOG_STORE, { transactions: true, conditionalWrite: true });
    const plan = explain(
      sagaOf([
        { name: "hold", kind: "compensatable", store: main },
        { name: "charge", kind: "pivot", store: sound },
        { name: "record", kind: "retriable", store: main },
        { name: "count", kind: "retriable", store: main },
      ]),
      { log: coCommitLog },
    );
    expect(plan.steps[0]?.guarantee).toBe(
      `It commits in one transaction with its log records: its write and the record of it land together or not at all.${GUARDED_UNDO} Its store does not promise never to reuse a version, so its compensation's transaction must check what the step left (an id the step generated), not a version a delete could reset.`,
    );
    expect(plan.steps[2]?.guarantee).toBe(
      `It commits in one transaction with its log records and those of "count": all of them land together or none does.${AFTER_PIVOT}`,
    );
  });

  it("does not ask a store that never reuses versions, or one without compare-and-set, to check what the step left", () => {
    const plan = explain(
      sagaOf([
        { name: "a", kind: "compensatable", store: sound },
        { name: "b", kind: "compensatable", store: casless },
        { name: "c", kind: "pivot", store: sound },
      ]),
    );
    for (const step of plan.steps) {
      expect(step.guarantee, step.name).not.toContain("does not promise never to reuse");
    }
  });

  it("a step co-committed through the log database's atomic batches says so in its guarantee", () => {
    const d1 = batchStore(LOG_STORE);
    const plan = explain(
      sagaOf([
        { name: "hold", kind: "compensatable", store: d1 },
        { name: "charge", kind: "pivot", store: sound },
      ]),
      { log: coCommitLog },
    );
    expect(plan.steps[0]?.strategy).toBe("batch_co_committed");
    expect(plan.steps[0]?.guarantee).toBe(
      `It commits in one atomic batch, with a fencing check, with its log records: its write and the record of it land together or not at all.${GUARDED_UNDO}`,
    );
    expect(plan.steps[1]?.guarantee).not.toContain("atomic batch");
  });

  it("says how each fence closes a timed-out attempt", () => {
    const plan = explain(
      sagaOf([
        { name: "a", kind: "compensatable", store: sound },
        {
          name: "b",
          kind: "compensatable",
          store: store(
            "svc:local",
            { conditionalWrite: true, versionsNeverReused: true },
            {
              mode: "in_process",
            },
          ),
        },
      ]),
    );
    expect(plan.steps[0]?.guarantee.endsWith(` ${KILL_WORDS}`)).toBe(true);
    expect(plan.steps[1]?.guarantee).toBe(
      `${PROBED}${GUARDED_UNDO} A timed-out attempt writes within this process, so once its call settles nothing of it can land; its probe's answer is trusted then.`,
    );
  });

  it("finds no missing compare-and-set on a pivot or a retriable step, which are never undone", () => {
    const plan = explain(
      sagaOf([
        { name: "charge", kind: "pivot", store: casless },
        { name: "notify", kind: "retriable", store: casless, probe: true },
      ]),
    );
    expect(plan.gaps).toEqual([]);
  });
});

describe("explain: the transactions steps collapse into", () => {
  const main = store(LOG_STORE, { transactions: true, conditionalWrite: true });
  const other = store("db:other", { conditionalWrite: true, versionsNeverReused: true }, KILLED);

  it("lists only groups of co-committed steps, never an empty one, whatever steps lie around them", () => {
    const saga = sagaOf([
      { name: "a", kind: "compensatable", store: other },
      { name: "b", kind: "compensatable", store: main },
      { name: "c", kind: "pivot", store: other },
      { name: "d", kind: "retriable", store: other, probe: true },
      { name: "e", kind: "retriable", store: main },
      { name: "f", kind: "retriable", store: other, probe: true },
    ]);
    expect(explain(saga, { log: coCommitLog }).transactions).toEqual([["b"], ["e"]]);
    expect(explain(saga).transactions).toEqual([]);
  });
});

describe("explain: a compensatable step's compensation plan, in words", () => {
  const sound = store("svc:sound", { conditionalWrite: true, versionsNeverReused: true }, KILLED);

  it("without a runner: lockstep's defaults, and says where to see the runner's", () => {
    const plan = explain(
      sagaOf([
        { name: "hold", kind: "compensatable", store: sound },
        { name: "charge", kind: "pivot", store: sound },
      ]),
    );
    expect(plan.steps[0]?.compensation).toEqual({
      attempts: 3,
      initialDelayMs: 50,
      maxDelayMs: 5_000,
      factor: 2,
      jitter: 0.5,
      timeoutMs: 10_000,
      description:
        "Its compensation gets up to 3 attempts in one run, 50 ms after the first failure and 2× more after each up to 5000 ms (jitter 0.5), each call within 10000 ms; after the last, the saga stays compensating and the recoverer tries again. What the step leaves unset comes from lockstep's defaults (pass the runner to explain to see its own).",
    });
  });

  it("a single attempt has no backoff to tell; with a runner, its settings fill the rest", () => {
    const saga = sagaOf([
      { name: "hold", kind: "compensatable", store: sound, attempts: 1 },
      { name: "charge", kind: "pivot", store: sound },
    ]);
    const runner = createRunner({ log: new MemorySagaLog(), timeoutMs: 2_000 });
    expect(explain(saga, { runner }).steps[0]?.compensation?.description).toBe(
      "Its compensation gets up to 1 attempt in one run, each call within 2000 ms; after the last, the saga stays compensating and the recoverer tries again. What the step leaves unset comes from the runner's settings.",
    );
  });
});

describe("explain: the saga's notes", () => {
  it("a durable log that co-commits has nothing to remark", () => {
    const plan = explain(
      sagaOf([{ name: "a", kind: "pivot", store: store(LOG_STORE, { transactions: true }) }]),
      { log: coCommitLog },
    );
    expect(plan.notes).toEqual([]);
  });
});

describe("explain: strict mode's message", () => {
  const casless = store("db:plain", {}, KILLED);

  it("one gap: counted as 1 gap and numbered (1)", () => {
    const saga = sagaOf([
      { name: "hold", kind: "compensatable", store: casless },
      { name: "charge", kind: "pivot", store: casless },
    ]);
    const [gap] = explain(saga).gaps;
    expect(() => assertExplained(saga)).toThrow(
      new LockstepDefinitionError(
        `Saga "plan" has 1 gap, and strict mode refuses to run a saga with gaps: (1) ${gap?.message}`,
      ),
    );
  });

  it("several gaps: numbered from (1), in step order, one after the other", () => {
    const saga = sagaOf([
      { name: "hold", kind: "compensatable", store: casless },
      { name: "lock", kind: "compensatable", store: casless },
      { name: "charge", kind: "pivot", store: casless },
    ]);
    const [first, second] = explain(saga).gaps;
    expect(() => explain(saga, { strict: true })).toThrow(
      `Saga "plan" has 2 gaps, and strict mode refuses to run a saga with gaps: (1) ${first?.message} (2) ${second?.message}`,
    );
  });
});

describe("explain: what it refuses to explain", () => {
  it("nothing at all: a definition error, not a TypeError", () => {
    expect(() => explain(undefined as never)).toThrow(LockstepDefinitionError);
    expect(() => explain(undefined as never)).toThrow(
      "Expected a saga built by defineSaga(…).build() to explain, got `undefined` (undefined).",
    );
  });
});

describe("explain: where a step's outbox messages are recorded", () => {
  const sound = store("svc:sound", { conditionalWrite: true, versionsNeverReused: true }, KILLED);
  const main = store(LOG_STORE, { transactions: true, conditionalWrite: true });
  const saga = sagaOf([
    { name: "hold", kind: "compensatable", store: sound },
    { name: "charge", kind: "pivot", store: main, publish: true },
    { name: "notify", kind: "retriable", store: sound, publish: true },
  ]);

  it("without a log: with the commit's log write, and the note says so", () => {
    const plan = explain(saga);
    expect(plan.steps.map((s) => s.outbox?.recorded)).toEqual([
      undefined,
      "with_commit",
      "with_commit",
    ]);
    expect(plan.steps[2]?.notes).toEqual([
      'Step "notify" of saga "plan" publishes outbox messages, recorded in the same log write that records its commit (from execute\'s output or the probe\'s), so a committed step never loses them. A relay (lockstep/outbox) delivers each at least once with a stable id (<sagaId>:notify:0, …), fenced by its claim\'s token; consumers dedupe by that id (an inbox).',
    ]);
  });

  it("given only the log's co-commit store (no log to ask for an outbox): co-committed or with the commit, never unsupported", () => {
    const plan = explain(saga, { log: { coCommit: { storeId: LOG_STORE } } });
    expect(plan.steps.map((s) => s.outbox?.recorded)).toEqual([
      undefined,
      "co_committed",
      "with_commit",
    ]);
  });
});
