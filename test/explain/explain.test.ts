import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { httpDocumentStore } from "../../src/adapters/http/index.js";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import { openSqlite, sqliteSagaLog, sqliteStore } from "../../src/adapters/sqlite/index.js";
import {
  assertExplained,
  committed,
  compensated,
  createRunner,
  defineSaga,
  defineStore,
  explain,
  InDoubtWindow,
  LockstepDefinitionError,
  MemorySagaLog,
  PlanGapCode,
  type Saga,
  type StepStore,
} from "../../src/index.js";
import { openMarketplace } from "../cli/fixtures/marketplace.js";

type Kind = "compensatable" | "pivot" | "retriable";

/** A store with the given capabilities; its transaction runs the work on the root handle. */
function store(
  id: string,
  capabilities: {
    transactions?: boolean;
    conditionalWrite?: boolean;
    versionsNeverReused?: boolean;
  },
) {
  return defineStore({
    id,
    handle: {},
    capabilities,
    ...(capabilities.transactions
      ? { transaction: <T>(work: (tx: object) => Promise<T>) => work({}) }
      : {}),
  }) as StepStore<unknown>;
}

/** A saga whose steps do nothing, with the given kinds, stores and probes. */
function sagaOf(
  steps: readonly { name: string; kind: Kind; store: StepStore<unknown>; probe?: boolean }[],
  recovery: "compensate" | "roll_forward" = "compensate",
) {
  // biome-ignore lint/suspicious/noExplicitAny: the builder's type grows with each step.
  let builder: any = defineSaga("plan", { input: z.object({}), recovery });
  for (const step of steps) {
    builder = builder.step(step.name, {
      store: step.store,
      kind: step.kind,
      output: z.object({}),
      execute: () => ({}),
      ...(step.kind !== "retriable" || step.probe ? { probe: () => committed({}) } : {}),
      ...(step.kind === "compensatable" ? { compensate: () => compensated() } : {}),
    });
  }
  return builder.build() as Saga;
}

const LOG_STORE = "db:main";
const coCommitLog = { coCommit: { storeId: LOG_STORE, write: async () => {} } };

describe("explain: strategy resolution from declared capabilities", () => {
  it("co-commits a step exactly when its store is the log's database and declares transactions", () => {
    const main = store(LOG_STORE, { transactions: true, conditionalWrite: true });
    const sameIdNoTx = store(LOG_STORE, { conditionalWrite: true });
    const other = store("db:other", { transactions: true, conditionalWrite: true });
    const saga = sagaOf([
      { name: "a", kind: "compensatable", store: main },
      { name: "b", kind: "compensatable", store: sameIdNoTx },
      { name: "c", kind: "pivot", store: other },
    ]);
    const plan = explain(saga, { log: coCommitLog });
    expect(plan.steps.map((s) => [s.name, s.strategy])).toEqual([
      ["a", "co_committed"],
      ["b", "saga"],
      ["c", "saga"],
    ]);
    expect(plan.coCommitStore).toBe(LOG_STORE);
    expect(plan.steps[1]?.guarantee).toContain("declares no transactions");
  });

  it("collapses consecutive co-committed steps into one transaction, split by any other step", () => {
    const main = store(LOG_STORE, { transactions: true, conditionalWrite: true });
    const other = store("db:other", { conditionalWrite: true });
    const saga = sagaOf([
      { name: "a", kind: "compensatable", store: main },
      { name: "b", kind: "compensatable", store: main },
      { name: "c", kind: "pivot", store: other },
      { name: "d", kind: "retriable", store: main },
      { name: "e", kind: "retriable", store: main },
      { name: "f", kind: "retriable", store: main },
    ]);
    const plan = explain(saga, { log: coCommitLog });
    expect(plan.transactions).toEqual([
      ["a", "b"],
      ["d", "e", "f"],
    ]);
    expect(plan.steps[0]?.transaction).toEqual(["a", "b"]);
    expect(plan.steps[2]?.transaction).toBeUndefined();
    expect(plan.steps[4]?.guarantee).toContain('those of "d", "f"');
  });

  it("plans no co-commit without a log, and says why in a note", () => {
    const main = store(LOG_STORE, { transactions: true, conditionalWrite: true });
    const plan = explain(sagaOf([{ name: "a", kind: "pivot", store: main }]));
    expect(plan.steps[0]?.strategy).toBe("saga");
    expect(plan.coCommitStore).toBeUndefined();
    expect(plan.notes).toHaveLength(1);
    expect(plan.notes[0]).toContain("No saga log was given");
  });

  it("reads a log's durability from its declaration, not its class", () => {
    // A memory log seen through a wrapper (or loaded from the other module format) is not an
    // instance of this copy's class; its declared flag still says it is lost with its process.
    const wrapped = { ...new MemorySagaLog(), durable: new MemorySagaLog().durable };
    const saga = sagaOf([{ name: "a", kind: "pivot", store: store("x", {}) }]);
    expect(explain(saga, { log: wrapped }).notes[0]).toContain("in memory");
    expect(explain(saga, { log: { durable: true } }).notes.join(" ")).not.toContain("in memory");
    expect(explain(saga, { log: {} }).notes.join(" ")).not.toContain("in memory");
  });

  it("notes that an in-memory log loses sagas in a crash and cannot co-commit", () => {
    const plan = explain(sagaOf([{ name: "a", kind: "pivot", store: store("x", {}) }]), {
      log: new MemorySagaLog(),
    });
    expect(plan.notes).toHaveLength(2);
    expect(plan.notes[0]).toContain("in memory");
    expect(plan.notes[1]).toContain("cannot commit inside a store's transactions");
  });
});

describe("explain: in-doubt windows", () => {
  it("is none when co-committed, until probed with a probe, re-executed by key for a retriable step without one", () => {
    const main = store(LOG_STORE, { transactions: true, conditionalWrite: true });
    const other = store("db:other", { conditionalWrite: true });
    const saga = sagaOf([
      { name: "co", kind: "compensatable", store: main },
      { name: "probed", kind: "pivot", store: other },
      { name: "keyed", kind: "retriable", store: other },
      { name: "probedRetriable", kind: "retriable", store: other, probe: true },
      { name: "coRetriable", kind: "retriable", store: main },
    ]);
    const plan = explain(saga, { log: coCommitLog });
    expect(plan.steps.map((s) => s.inDoubt)).toEqual([
      InDoubtWindow.None,
      InDoubtWindow.UntilProbed,
      InDoubtWindow.ReExecutedByKey,
      InDoubtWindow.UntilProbed,
      InDoubtWindow.None,
    ]);
    expect(plan.steps[2]?.inDoubtDescription).toContain("idempotent by that key");
  });
});

describe("explain: gaps and strict mode", () => {
  const casless = store("db:plain", {});
  const other = store("db:other", { conditionalWrite: true, versionsNeverReused: true });
  const main = store(LOG_STORE, { transactions: true, conditionalWrite: true });
  const gappy = sagaOf([
    { name: "hold", kind: "compensatable", store: casless },
    { name: "charge", kind: "pivot", store: other },
    { name: "notify", kind: "retriable", store: other },
    { name: "record", kind: "retriable", store: main },
  ]);

  it("finds a missing CAS guard and a probe-less retriable step that is not co-committed, and nothing else", () => {
    const plan = explain(gappy, { log: coCommitLog });
    expect(plan.gaps.map((g) => [g.step, g.code])).toEqual([
      ["hold", PlanGapCode.NoCasGuard],
      ["notify", PlanGapCode.NoProbe],
    ]);
    expect(plan.steps[0]?.gaps).toHaveLength(1);
    expect(plan.steps[3]?.gaps).toHaveLength(0);
    expect(plan.gaps[0]?.message).toContain('store "db:plain" declares no conditionalWrite');
  });

  it("strict: true throws a definition error naming every gap; without it the plan is returned", () => {
    expect(() => explain(gappy, { log: coCommitLog, strict: true })).toThrow(
      LockstepDefinitionError,
    );
    try {
      assertExplained(gappy, { log: coCommitLog });
      expect.fail("assertExplained accepted a saga with gaps");
    } catch (error) {
      expect(LockstepDefinitionError.is(error)).toBe(true);
      const message = (error as Error).message;
      expect(message).toContain('Saga "plan" has 2 gaps');
      expect(message).toContain('Step "hold"');
      expect(message).toContain('Step "notify"');
    }
    expect(explain(gappy, { log: coCommitLog, strict: false }).gaps).toHaveLength(2);
  });

  it("assertExplained returns the plan of a saga without gaps", () => {
    const clean = sagaOf([
      { name: "hold", kind: "compensatable", store: other },
      { name: "charge", kind: "pivot", store: other },
    ]);
    expect(assertExplained(clean).steps).toHaveLength(2);
  });

  it("refuses what is not a saga, and a strict flag that is not a boolean, naming the value", () => {
    expect(() => explain(null as never)).toThrow("got `null` (null)");
    expect(() => explain(gappy, { strict: "yes" as never })).toThrow(
      'Expected `strict` to be a boolean, got `"yes"` (string)',
    );
  });
});

describe("explain: the versions a guarded compensation compares", () => {
  const reusing = store("kv:reusing", { conditionalWrite: true });
  const unique = store("kv:unique", { conditionalWrite: true, versionsNeverReused: true });

  it("finds a compensatable step on a store whose versions may be reused, and no other step on it", () => {
    const saga = sagaOf([
      { name: "hold", kind: "compensatable", store: reusing },
      { name: "charge", kind: "pivot", store: reusing },
      { name: "notify", kind: "retriable", store: reusing, probe: true },
    ]);
    const plan = explain(saga);
    expect(plan.gaps.map((g) => [g.step, g.code])).toEqual([
      ["hold", PlanGapCode.ReusableVersions],
    ]);
    const message = plan.gaps[0]?.message ?? "";
    expect(message).toContain('Step "hold" of saga "plan"');
    expect(message).toContain('store "kv:reusing" declares no versionsNeverReused');
    expect(message, "the gap must say what goes wrong").toContain("another writer");
    expect(plan.steps[0]?.guarantee).toContain("may give a re-created document");
    expect(() => assertExplained(saga)).toThrow(/declares no versionsNeverReused/);
  });

  it("finds nothing missing on a store that declares versionsNeverReused", () => {
    const saga = sagaOf([
      { name: "hold", kind: "compensatable", store: unique },
      { name: "charge", kind: "pivot", store: unique },
    ]);
    expect(assertExplained(saga).gaps).toEqual([]);
    expect(explain(saga).steps[0]?.guarantee).not.toContain("re-created");
  });

  it("reports only the missing guard on a store without conditionalWrite, and no gap on a transactional store, whose compensation can check what its step left", () => {
    const casless = store("kv:casless", { versionsNeverReused: false });
    const sql = store("db:sql", { transactions: true, conditionalWrite: true });
    const plan = explain(
      sagaOf([
        { name: "a", kind: "compensatable", store: casless },
        { name: "b", kind: "compensatable", store: sql },
        { name: "c", kind: "pivot", store: unique },
      ]),
    );
    expect(plan.gaps.map((g) => [g.step, g.code])).toEqual([["a", PlanGapCode.NoCasGuard]]);
    expect(plan.steps[1]?.guarantee).toContain("an id the step generated");
  });

  it("counts every built-in document store's guards as sound, and an HTTP service whose ETags may repeat as a gap", () => {
    const stores = [
      ...(["transactional", "batch", "plain"] as const).map((tier) => createMemoryStore({ tier })),
      httpDocumentStore({ baseUrl: "http://127.0.0.1:9/docs/" }),
    ];
    for (const built of stores) {
      expect(built.capabilities.versionsNeverReused, built.id).toBe(true);
      const saga = sagaOf([
        { name: "hold", kind: "compensatable", store: built as StepStore<unknown> },
      ]);
      expect(explain(saga).gaps, built.id).toEqual([]);
    }
    const hashing = httpDocumentStore({
      baseUrl: "http://127.0.0.1:9/docs/",
      etagsNeverReused: false,
    });
    expect(hashing.capabilities.versionsNeverReused).toBe(false);
    const gaps = explain(
      sagaOf([{ name: "hold", kind: "compensatable", store: hashing as StepStore<unknown> }]),
    ).gaps;
    expect(gaps.map((g) => g.code)).toEqual([PlanGapCode.ReusableVersions]);
  });
});

describe("explain agrees with the runner", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("plans the strategy each step of a real SQLite run reports", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lockstep-explain-"));
    dirs.push(dir);
    const mainDb = openSqlite(join(dir, "main.db"));
    const otherDb = openSqlite(join(dir, "other.db"));
    try {
      const log = sqliteSagaLog(mainDb);
      const main = sqliteStore(mainDb);
      const other = sqliteStore(otherDb);
      const saga = sagaOf([
        { name: "a", kind: "compensatable", store: main },
        { name: "b", kind: "compensatable", store: main },
        { name: "c", kind: "pivot", store: other },
        { name: "d", kind: "retriable", store: main },
      ]);
      const plan = explain(saga, { log });
      const result = await createRunner({ log }).run(saga, {});
      const report = result._unsafeUnwrap();
      expect(report.steps.map((s) => s.strategy)).toEqual(plan.steps.map((s) => s.strategy));
      expect(plan.steps.map((s) => s.strategy)).toEqual([
        "co_committed",
        "co_committed",
        "saga",
        "co_committed",
      ]);
    } finally {
      mainDb.close();
      otherDb.close();
    }
  });

  it("explains the bounty sagas on the demo's layout: 5 sagas, 15 steps, no gaps: every retriable step without a probe is declared idempotent", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lockstep-explain-"));
    dirs.push(dir);
    const world = await openMarketplace(dir);
    try {
      const plans = Object.values(world.sagas).map((saga) => explain(saga, { log: world.log }));
      expect(plans).toHaveLength(5);
      const table = plans.flatMap((p) => p.steps.map((s) => `${p.saga}.${s.name}:${s.strategy}`));
      expect(table).toEqual([
        "bounty.create.reserve:saga",
        "bounty.create.open:co_committed",
        "bounty.claim.claim:co_committed",
        "bounty.claim.mark:co_committed",
        "bounty.settle.begin:co_committed",
        "bounty.settle.capture:saga",
        "bounty.settle.complete:co_committed",
        "bounty.settle.settle:co_committed",
        "bounty.settle.closeClaim:co_committed",
        "bounty.expire.close:co_committed",
        "bounty.expire.void:saga",
        "bounty.expire.release:co_committed",
        "bounty.cancel.close:co_committed",
        "bounty.cancel.void:saga",
        "bounty.cancel.release:co_committed",
      ]);
      const gaps = plans.flatMap((p) => p.gaps.map((g) => `${p.saga}.${g.step}:${g.code}`));
      expect(gaps).toEqual([]);
      expect(plans[2]?.transactions).toEqual([["begin"], ["complete", "settle", "closeClaim"]]);
    } finally {
      world.close();
    }
  });
});
