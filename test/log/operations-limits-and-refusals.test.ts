import { afterEach, describe, expect, it } from "vitest";
import { sqliteSagaLog, sqliteStore } from "../../src/adapters/sqlite/index.js";
import { MemorySagaLog } from "../../src/log/memory-log.js";
import type { OperationsLog, OperatorPrune } from "../../src/log/operations-log.js";
import { SagaLogError } from "../../src/log/saga-log.js";
import { LockstepDefinitionError } from "../../src/model/definition-error.js";
import { type SagaRecord, SagaStatus } from "../../src/model/records.js";
import { tempDatabase } from "../adapters/sqlite/temp-database.js";
import { workerStatus } from "../conformance/operations-log.js";
import { logFailure, sagaRecord } from "../conformance/saga-log.js";

const T0 = 1_700_000_000_000;
const NOW = T0 + 100_000;
const BEFORE = T0 + 50_000;
const dana = { actor: "dana", action: "prune", note: "monthly retention" } as const;

interface Opened {
  readonly log: MemorySagaLog | ReturnType<typeof sqliteSagaLog>;
  readonly ops: OperationsLog;
  /** Runs SQL on the log's database (SQLite only). */
  readonly sql?: (statement: string) => Promise<void>;
  readonly close: () => void;
}

const opened: Opened[] = [];

afterEach(() => {
  for (const each of opened.splice(0)) each.close();
  Reflect.deleteProperty(globalThis.crypto, "randomUUID");
});

const logs: [string, () => Opened][] = [
  [
    "MemorySagaLog",
    () => {
      const log = new MemorySagaLog();
      return { log, ops: log.operations, close: () => {} };
    },
  ],
  [
    "sqliteSagaLog on a file",
    () => {
      const temp = tempDatabase();
      const log = sqliteSagaLog(temp.db);
      const handle = sqliteStore(temp.db).handle;
      if (log.operations === undefined) throw new Error("the SQLite log keeps no operations");
      return {
        log,
        ops: log.operations,
        sql: async (statement) => {
          await handle.run(statement);
        },
        close: () => temp.remove(),
      };
    },
  ],
];

function open(make: () => Opened): Opened {
  const each = make();
  opened.push(each);
  return each;
}

/** A saga ended in `status` at `updatedAt`, its lease as given. */
function ended(
  sagaId: string,
  status: SagaRecord["status"],
  updatedAt: number,
  leaseOwner: string | null = null,
  leaseExpiresAt: number | null = null,
): SagaRecord {
  return sagaRecord(sagaId, {
    status,
    createdAt: updatedAt,
    updatedAt,
    leaseOwner,
    leaseExpiresAt,
  });
}

/** Gives every event an id from `ids`, in turn, so that events can tie on time and be told apart. */
function eventIds(ids: readonly string[]): void {
  let next = 0;
  Object.defineProperty(globalThis.crypto, "randomUUID", {
    value: () => ids[next++],
    configurable: true,
  });
}

async function definitionError(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    expect(LockstepDefinitionError.is(error), String(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error("Expected the call to be refused, but it succeeded.");
}

describe.each(logs)("operations on %s", (_name, make) => {
  it("refuses a bad prune with a message naming the value, deleting and recording nothing", async () => {
    const { log, ops } = open(make);
    await log.create(ended("c-1", SagaStatus.Completed, T0));
    const refusals: [OperatorPrune, string][] = [
      [
        { before: 1.5, now: NOW, operator: dana },
        "Expected `before` to be an integer >= -9007199254740991, got 1.5.",
      ],
      [
        { before: undefined as unknown as number, now: NOW, operator: dana },
        "Expected `before` to be an integer >= -9007199254740991, got undefined.",
      ],
      [
        { before: BEFORE, now: -1, operator: dana },
        "Expected `now` to be an integer >= 0, got -1.",
      ],
      [
        { before: BEFORE, now: String(NOW) as unknown as number, operator: dana },
        `Expected \`now\` to be an integer >= 0, got "${NOW}".`,
      ],
      [
        { before: BEFORE, statuses: [], now: NOW, operator: dana },
        "Expected `statuses` to name at least one terminal status to prune, got none.",
      ],
      [
        {
          before: BEFORE,
          statuses: [SagaStatus.Completed, SagaStatus.InDoubt],
          now: NOW,
          operator: dana,
        },
        'Only terminal sagas can be pruned; "in_doubt" is not terminal.',
      ],
      [
        { before: BEFORE, now: NOW, operator: { ...dana, actor: "" } },
        'Expected `operator` to have an actor (1 to 200 characters), an action (1 to 64) and a note (at most 2000); `operator.actor` is "".',
      ],
      [
        { before: BEFORE, now: NOW, operator: { actor: "dana", action: "prune" } as typeof dana },
        "Expected `operator` to have an actor (1 to 200 characters), an action (1 to 64) and a note (at most 2000); `operator.note` is undefined.",
      ],
      [
        { before: BEFORE, now: NOW, operator: { ...dana, action: "p".repeat(65) } },
        `\`operator.action\` is "${"p".repeat(65)}".`,
      ],
    ];
    for (const [request, message] of refusals) {
      expect(await definitionError(ops.prune(request))).toContain(message);
    }
    // No operator at all: still refused as a definition error, not a TypeError.
    expect(
      await definitionError(
        ops.prune({ before: BEFORE, now: NOW, operator: undefined as unknown as typeof dana }),
      ),
    ).toContain("Expected `operator` to have an actor (1 to 200 characters)");
    expect(refusals).toHaveLength(9);
    expect(await log.load("c-1")).toBeDefined();
    expect(await ops.events()).toEqual([]);
  });

  it("accepts the earliest cut-off and time there are, and records the prune at that time", async () => {
    const { log, ops } = open(make);
    await log.create(ended("c-1", SagaStatus.Completed, 0));
    const event = await ops.prune({ before: Number.MIN_SAFE_INTEGER, now: 0, operator: dana });
    expect(event).toMatchObject({
      at: 0,
      request: { before: Number.MIN_SAFE_INTEGER, statuses: ["completed", "compensated"] },
      changed: 0,
      skipped: 0,
      sagaIds: [],
    });
    expect(await log.load("c-1")).toBeDefined();
    expect(await ops.events()).toEqual([event]);
  });

  it("counts as held only a lease with an owner that expires after now", async () => {
    const { log, ops } = open(make);
    await log.create(ended("owner-only", SagaStatus.Completed, T0, "runner-a", null));
    await log.create(ended("expiry-only", SagaStatus.Completed, T0, null, NOW + 1_000));
    await log.create(ended("expired", SagaStatus.Completed, T0, "runner-a", NOW - 1));
    await log.create(ended("held", SagaStatus.Compensated, T0, "runner-a", NOW + 1));
    const event = await ops.prune({ before: BEFORE, now: NOW, operator: dana });
    expect([event.changed, event.skipped, event.sagaIds]).toEqual([
      3,
      1,
      ["expired", "expiry-only", "owner-only"],
    ]);
    expect((await log.list()).map((r) => r.sagaId)).toEqual(["held"]);
  });

  it("prunes only what was last updated strictly before the cut-off, and forgets only workers heard from before it", async () => {
    const { log, ops } = open(make);
    await log.create(ended("at-cut-off", SagaStatus.Completed, BEFORE));
    await log.create(ended("just-before", SagaStatus.Completed, BEFORE - 1));
    await ops.reportWorker(workerStatus("at-cut-off", BEFORE));
    await ops.reportWorker(workerStatus("just-before", BEFORE - 1));
    const event = await ops.prune({ before: BEFORE, now: NOW, operator: dana });
    expect(event.sagaIds).toEqual(["just-before"]);
    expect((await log.list()).map((r) => r.sagaId)).toEqual(["at-cut-off"]);
    expect((await ops.workers()).map((w) => w.workerId)).toEqual(["at-cut-off"]);
  });

  it("lists events newest first, those recorded at the same time by id, the last of them first", async () => {
    const { ops } = open(make);
    eventIds(["event-b", "event-c", "event-a", "event-d"]);
    await ops.prune({ before: T0, now: NOW, operator: dana });
    await ops.prune({ before: T0, now: NOW, operator: dana });
    await ops.prune({ before: T0, now: NOW, operator: dana });
    await ops.prune({ before: T0, now: NOW - 1, operator: dana });
    expect((await ops.events()).map((e) => e.eventId)).toEqual([
      "event-c",
      "event-b",
      "event-a",
      "event-d",
    ]);
    expect((await ops.events({ limit: 2 })).map((e) => e.eventId)).toEqual(["event-c", "event-b"]);
  });

  it("lists workers by latest heartbeat, those that reported at the same time by id", async () => {
    const { ops } = open(make);
    await ops.reportWorker(workerStatus("worker-c", T0 + 5));
    await ops.reportWorker(workerStatus("worker-b", T0 + 5));
    await ops.reportWorker(workerStatus("worker-d", T0 + 9));
    await ops.reportWorker(workerStatus("worker-a", T0 + 1));
    await ops.reportWorker(workerStatus("worker-e", T0 + 7));
    await ops.reportWorker(workerStatus("worker-f", T0 + 7));
    expect((await ops.workers()).map((w) => w.workerId)).toEqual([
      "worker-d",
      "worker-e",
      "worker-f",
      "worker-b",
      "worker-c",
      "worker-a",
    ]);
  });

  it("refuses a prune whose new event id the log cannot keep, as corrupt, deleting nothing", async () => {
    const { log, ops } = open(make);
    await log.create(ended("c-1", SagaStatus.Completed, T0));
    eventIds(["x".repeat(65)]);
    const error = await logFailure(ops.prune({ before: BEFORE, now: NOW, operator: dana }));
    expect(error).toMatchObject({ reason: "corrupt", field: "eventId" });
    expect(error.message).toMatch(/^An operator event is invalid at `eventId`: .+\.$/);
    expect(await log.load("c-1")).toBeDefined();
    expect(await ops.events()).toEqual([]);
  });

  it("refuses a limit that is not an integer >= 0, naming it", async () => {
    const { ops } = open(make);
    expect(await definitionError(ops.events({ limit: -1 }))).toBe(
      "Expected `limit` to be an integer >= 0, got -1.",
    );
    expect(await definitionError(ops.workers({ limit: 2.5 }))).toBe(
      "Expected `limit` to be an integer >= 0, got 2.5.",
    );
    expect(await ops.workers({ limit: 0 })).toEqual([]);
  });

  it("refuses an invalid worker report, naming the field and what is wrong with it", async () => {
    const { ops } = open(make);
    const error = await logFailure(
      ops.reportWorker({ ...workerStatus("worker-a", T0), intervalMs: 0 }),
    );
    expect(error).toMatchObject({ reason: "corrupt", sagaId: "", field: "intervalMs" });
    expect(error.message).toMatch(/^A recovery worker's status is invalid at `intervalMs`: .+\.$/);
    expect(error.cause).toBeDefined();
    const nested = await logFailure(
      ops.reportWorker({
        ...workerStatus("worker-a", T0),
        lastPass: { startedAt: T0, at: T0, claimed: 1, counts: { completed: -1 } },
      }),
    );
    expect(nested.field).toBe("lastPass.counts.completed");
    expect(await ops.workers()).toEqual([]);
  });
});

describe("operations on a MemorySagaLog", () => {
  it("returns at most 100 events and 100 workers unless asked for another limit", async () => {
    const ops = new MemorySagaLog().operations;
    for (let i = 0; i < 101; i++) await ops.prune({ before: T0, now: T0 + i, operator: dana });
    const events = await ops.events();
    expect(events.map((e) => e.at)).toEqual(Array.from({ length: 100 }, (_, i) => T0 + 100 - i));
    expect(await ops.events({ limit: 101 })).toHaveLength(101);
    for (let i = 0; i < 101; i++) {
      await ops.reportWorker(workerStatus(`worker-${String(i).padStart(3, "0")}`, T0 + i));
    }
    const workers = await ops.workers();
    expect(workers).toHaveLength(100);
    expect(workers[0]?.workerId).toBe("worker-100");
    expect(workers.at(-1)?.workerId).toBe("worker-001");
    expect(await ops.workers({ limit: 101 })).toHaveLength(101);
  });

  it("refuses a prune whose event id is already recorded, naming it, and prunes nothing", async () => {
    const log = new MemorySagaLog();
    eventIds(["event-1", "event-1"]);
    await log.operations.prune({ before: T0, now: NOW, operator: dana });
    await log.create(ended("c-1", SagaStatus.Completed, T0));
    const error = await logFailure(
      log.operations.prune({ before: BEFORE, now: NOW, operator: dana }),
    );
    expect(error).toMatchObject({
      reason: "exists",
      sagaId: "",
      message: 'An operator event with id "event-1" is already recorded; nothing was pruned.',
    });
    expect(await log.load("c-1")).toBeDefined();
  });
});

describe("operations on a SQLite log read back a damaged row", () => {
  it("as corrupt, naming the event's or the worker's field", async () => {
    const { ops, sql } = open(logs[1]?.[1] as () => Opened);
    eventIds(["event-1"]);
    await ops.prune({ before: T0, now: NOW, operator: dana });
    await ops.reportWorker(workerStatus("worker-a", T0));
    await sql?.(`UPDATE lockstep_operator_events SET body = json_set(body, '$.changed', -3)`);
    const event = await logFailure(ops.events());
    expect(event).toMatchObject({ reason: "corrupt", field: "changed" });
    expect(event.message).toMatch(/^An operator event is invalid at `changed`: .+\.$/);
    await sql?.(`UPDATE lockstep_recovery_workers SET body = json_remove(body, '$.workerId')`);
    const worker = await logFailure(ops.workers());
    expect(worker).toMatchObject({ reason: "corrupt", field: "workerId" });
    expect(worker.message).toMatch(/^A recovery worker's status is invalid at `workerId`: .+\.$/);
    expect(SagaLogError.is(worker)).toBe(true);
  });
});
