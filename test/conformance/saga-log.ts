import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type LogFailure, type SagaLog, SagaLogError } from "../../src/log/saga-log.js";
import {
  type NewStepEntry,
  RECOVERABLE_STATUSES,
  type SagaRecord,
  SagaStatus,
  SCHEMA_VERSION,
  TERMINAL_STATUSES,
} from "../../src/model/records.js";
import { StepKind } from "../../src/model/step-kind.js";
import { operationsLogConformance } from "./operations-log.js";
import { printConformanceCount } from "./report.js";
import { sagaLogPagingConformance } from "./saga-log-paging.js";

/** What a saga log suite needs from each implementation: a fresh, empty log and a way to close it. */
export type SagaLogFactory = () => Promise<{ log: SagaLog; close(): Promise<void> }>;

/** The time every record starts at; leases and cut-offs are expressed relative to it. */
const T0 = 1_700_000_000_000;
const TTL = 1_000;

/** A valid saga header, leased to `runner-a` with token 1 until `T0 + TTL`. */
export function sagaRecord(sagaId: string, overrides: Partial<SagaRecord> = {}): SagaRecord {
  return {
    schemaVersion: SCHEMA_VERSION,
    sagaId,
    definition: {
      name: "order",
      version: 1,
      steps: [
        {
          name: "reserve",
          kind: StepKind.Compensatable,
          store: "db",
          probe: true,
          compensate: true,
        },
        { name: "charge", kind: StepKind.Pivot, store: "payments", probe: true, compensate: false },
      ],
    },
    input: { orderId: "o-1", amount: 30 },
    status: SagaStatus.Running,
    attention: null,
    fencingToken: 1,
    leaseOwner: "runner-a",
    leaseExpiresAt: T0 + TTL,
    recoveryAttempts: 0,
    nextRecoveryAt: 0,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

/** A step entry as the runner hands it to the log. */
export function stepEntry(
  step: string,
  type: NewStepEntry["type"],
  extra: Partial<NewStepEntry> = {},
): NewStepEntry {
  return { step, type, attempt: 1, at: T0, ...extra };
}

/** The `SagaLogError` a call failed with; fails the test if it succeeded or threw anything else. */
export async function logFailure(call: Promise<unknown>): Promise<SagaLogError> {
  try {
    await call;
  } catch (error) {
    if (SagaLogError.is(error)) return error;
    throw error;
  }
  throw new Error("Expected the call to fail with a SagaLogError, but it succeeded.");
}

async function reasonOf(call: Promise<unknown>): Promise<LogFailure> {
  return (await logFailure(call)).reason;
}

/**
 * Registers a `describe` block that holds a saga log to every behaviour of the `SagaLog` port. Each
 * test gets a fresh log from `factory` and closes it afterwards.
 */
export function sagaLogConformance(name: string, factory: SagaLogFactory): void {
  sagaLogPagingConformance(name, factory);
  operationsLogConformance(name, factory);
  describe(`SagaLog conformance: ${name}`, () => {
    printConformanceCount("saga log", name);
    let log: SagaLog;
    let close: () => Promise<void>;

    beforeEach(async () => {
      const opened = await factory();
      log = opened.log;
      close = () => opened.close();
    });

    afterEach(async () => {
      await close();
    });

    it("create stores the record and load returns it, with no entries", async () => {
      const record = sagaRecord("saga-1");
      await log.create(record);
      expect(await log.load("saga-1")).toEqual({ record, entries: [] });
    });

    it("load of an unknown saga is undefined", async () => {
      expect(await log.load("missing")).toBeUndefined();
    });

    it("create refuses an existing id with `exists` and keeps the first record", async () => {
      await log.create(sagaRecord("saga-1"));
      const reason = await reasonOf(log.create(sagaRecord("saga-1", { input: { other: true } })));
      expect(reason, "a second create must not overwrite the first saga").toBe("exists");
      expect((await log.load("saga-1"))?.record.input).toEqual({ orderId: "o-1", amount: 30 });
    });

    it("create validates the record and stores nothing when it is invalid", async () => {
      const error = await logFailure(log.create(sagaRecord("saga-1", { fencingToken: 0 })));
      expect(error.reason).toBe("corrupt");
      expect(error.field).toBe("fencingToken");
      expect(await log.load("saga-1"), "an invalid record must not be stored").toBeUndefined();
    });

    it("write appends entries numbered in order across writes, stamped with saga, token and version", async () => {
      await log.create(sagaRecord("saga-1"));
      await log.write("saga-1", 1, {
        entries: [stepEntry("reserve", "intent"), stepEntry("reserve", "committed", { output: 1 })],
        now: T0 + 1,
      });
      await log.write("saga-1", 1, { entries: [stepEntry("charge", "intent")], now: T0 + 2 });
      const snapshot = await log.load("saga-1");
      expect(snapshot?.entries.map((e) => [e.seq, e.step, e.type])).toEqual([
        [1, "reserve", "intent"],
        [2, "reserve", "committed"],
        [3, "charge", "intent"],
      ]);
      for (const entry of snapshot?.entries ?? []) {
        expect(entry).toMatchObject({ sagaId: "saga-1", token: 1, schemaVersion: SCHEMA_VERSION });
      }
      expect(snapshot?.record.updatedAt).toBe(T0 + 2);
    });

    it("write applies status, attention, lease release and recovery together with its entries", async () => {
      await log.create(sagaRecord("saga-1"));
      const attention = { reason: "guard_failed", step: "reserve", message: "moved on" } as const;
      await log.write("saga-1", 1, {
        entries: [stepEntry("reserve", "guard_failed")],
        status: SagaStatus.NeedsAttention,
        attention,
        releaseLease: true,
        recovery: { attempts: 2, nextAt: T0 + 500 },
        now: T0 + 10,
      });
      const snapshot = await log.load("saga-1");
      expect(snapshot?.entries).toHaveLength(1);
      expect(snapshot?.record).toMatchObject({
        status: SagaStatus.NeedsAttention,
        attention,
        leaseOwner: null,
        leaseExpiresAt: null,
        recoveryAttempts: 2,
        nextRecoveryAt: T0 + 500,
        updatedAt: T0 + 10,
        fencingToken: 1,
      });
      await log.write("saga-1", 1, { status: SagaStatus.Running, now: T0 + 11 });
      expect((await log.load("saga-1"))?.record.attention, "a new status clears attention").toBe(
        null,
      );
    });

    it("write with a stale token is refused with `stale_token` and changes nothing", async () => {
      await log.create(sagaRecord("saga-1"));
      const reason = await reasonOf(
        log.write("saga-1", 2, {
          entries: [stepEntry("reserve", "intent")],
          status: SagaStatus.Completed,
          now: T0 + 1,
        }),
      );
      expect(reason).toBe("stale_token");
      const snapshot = await log.load("saga-1");
      expect(snapshot?.entries, "a refused write must append nothing").toEqual([]);
      expect(snapshot?.record.status).toBe(SagaStatus.Running);
    });

    it("write whose expectStatus does not match is refused with `status_mismatch` and changes nothing", async () => {
      await log.create(sagaRecord("saga-1"));
      const reason = await reasonOf(
        log.write("saga-1", 1, {
          entries: [stepEntry("reserve", "compensated")],
          status: SagaStatus.Compensated,
          expectStatus: [SagaStatus.Compensating],
          now: T0 + 1,
        }),
      );
      expect(reason).toBe("status_mismatch");
      expect((await log.load("saga-1"))?.entries).toEqual([]);
      await log.write("saga-1", 1, {
        status: SagaStatus.Compensating,
        expectStatus: [SagaStatus.Running],
        now: T0 + 2,
      });
      expect((await log.load("saga-1"))?.record.status).toBe(SagaStatus.Compensating);
    });

    it("write computed from a stale snapshot (`expectSeq` behind the log) is refused with `version_mismatch` and changes nothing", async () => {
      await log.create(sagaRecord("saga-1"), [stepEntry("reserve", "intent")]);
      // Two writers under the same token and status: the second read the saga before the first
      // wrote, so the entry number it expects is behind.
      await log.write("saga-1", 1, {
        entries: [stepEntry("reserve", "committed")],
        expectStatus: [SagaStatus.Running],
        expectSeq: 1,
        now: T0 + 1,
      });
      const reason = await reasonOf(
        log.write("saga-1", 1, {
          entries: [stepEntry("reserve", "compensated")],
          status: SagaStatus.Compensated,
          expectStatus: [SagaStatus.Running],
          expectSeq: 1,
          now: T0 + 2,
        }),
      );
      expect(reason).toBe("version_mismatch");
      const after = await log.load("saga-1");
      expect(after?.entries.map((e) => e.type)).toEqual(["intent", "committed"]);
      expect(after?.record.status).toBe(SagaStatus.Running);
      await log.write("saga-1", 1, { status: SagaStatus.Completed, expectSeq: 2, now: T0 + 3 });
      expect((await log.load("saga-1"))?.record.status).toBe(SagaStatus.Completed);
    });

    it("write to an unknown saga fails with `not_found`", async () => {
      expect(await reasonOf(log.write("missing", 1, { now: T0 }))).toBe("not_found");
    });

    it("write validates its entries and applies none of the change when one is invalid", async () => {
      await log.create(sagaRecord("saga-1"));
      const error = await logFailure(
        log.write("saga-1", 1, {
          entries: [
            stepEntry("reserve", "intent"),
            stepEntry("reserve", "committed", { attempt: 0 }),
          ],
          status: SagaStatus.Completed,
          now: T0 + 1,
        }),
      );
      expect(error.reason).toBe("corrupt");
      expect(error.field).toBe("attempt");
      const snapshot = await log.load("saga-1");
      expect(snapshot?.entries, "the valid entry must not land without the rest").toEqual([]);
      expect(snapshot?.record.status).toBe(SagaStatus.Running);
    });

    it("acquireLease refuses a live lease, takes a free or expired one, and increments the token each time", async () => {
      await log.create(sagaRecord("saga-1"));
      expect(await log.acquireLease("saga-1", "runner-b", TTL, T0 + TTL - 1)).toBeUndefined();
      const second = await log.acquireLease("saga-1", "runner-b", TTL, T0 + TTL);
      expect(second, "an expired lease is taken with the next token").toBe(2);
      expect((await log.load("saga-1"))?.record).toMatchObject({
        fencingToken: 2,
        leaseOwner: "runner-b",
        leaseExpiresAt: T0 + 2 * TTL,
      });
      expect(await log.acquireLease("saga-1", "runner-c", TTL, T0 + TTL + 1)).toBeUndefined();
      await log.releaseLease("saga-1", 2);
      const third = await log.acquireLease("saga-1", "runner-c", TTL, T0 + TTL + 2);
      expect(third, "a released lease is free at once").toBe(3);
      expect((await log.load("saga-1"))?.record.leaseOwner).toBe("runner-c");
    });

    it("acquireLease of an unknown saga fails with `not_found`", async () => {
      expect(await reasonOf(log.acquireLease("missing", "runner-b", TTL, T0))).toBe("not_found");
    });

    it("a writer whose lease was taken over is fenced off", async () => {
      await log.create(sagaRecord("saga-1"));
      const token = await log.acquireLease("saga-1", "runner-b", TTL, T0 + TTL);
      expect(token).toBe(2);
      const reason = await reasonOf(
        log.write("saga-1", 1, { entries: [stepEntry("reserve", "intent")], now: T0 + TTL }),
      );
      expect(reason, "the previous owner must not write after a takeover").toBe("stale_token");
      await log.write("saga-1", 2, { entries: [stepEntry("reserve", "intent")], now: T0 + TTL });
      expect((await log.load("saga-1"))?.entries.map((e) => e.token)).toEqual([2]);
    });

    it("a write that raises the fencing token (`fence`) moves the lease to the new token: the old one is refused, the new one writes and renews", async () => {
      await log.create(sagaRecord("saga-1"));
      await log.write("saga-1", 1, { fence: true, now: T0 + 1 });
      expect((await log.load("saga-1"))?.record.fencingToken).toBe(2);
      expect(await reasonOf(log.write("saga-1", 1, { entries: [], now: T0 + 2 }))).toBe(
        "stale_token",
      );
      await log.write("saga-1", 2, { entries: [stepEntry("reserve", "intent")], now: T0 + 3 });
      expect((await log.load("saga-1"))?.entries.map((e) => e.token)).toEqual([2]);
      expect(
        await log.renewLease("saga-1", 2, TTL, T0 + 4),
        "the raised token holds the lease",
      ).toBe(true);
      expect(await log.renewLease("saga-1", 1, TTL, T0 + 5), "the old token no longer").toBe(false);
      expect((await log.load("saga-1"))?.record.leaseOwner).toBe("runner-a");
    });

    it("renewLease extends a live lease for the current token only", async () => {
      await log.create(sagaRecord("saga-1"));
      expect(await log.renewLease("saga-1", 1, TTL, T0 + 500)).toBe(true);
      expect((await log.load("saga-1"))?.record.leaseExpiresAt).toBe(T0 + 500 + TTL);
      expect(
        await log.acquireLease("saga-1", "runner-b", TTL, T0 + TTL),
        "a renewed lease outlives its first expiry",
      ).toBeUndefined();
      expect(await log.renewLease("saga-1", 7, TTL, T0 + 600), "stale token").toBe(false);
      await log.releaseLease("saga-1", 1);
      expect(await log.renewLease("saga-1", 1, TTL, T0 + 700), "released lease").toBe(false);
      expect((await log.load("saga-1"))?.record.leaseOwner).toBeNull();
    });

    it("releaseLease with a stale token leaves the lease in place, and an unknown saga is a no-op", async () => {
      await log.create(sagaRecord("saga-1"));
      await log.releaseLease("saga-1", 5);
      expect((await log.load("saga-1"))?.record.leaseOwner).toBe("runner-a");
      expect(await log.acquireLease("saga-1", "runner-b", TTL, T0)).toBeUndefined();
      await expect(log.releaseLease("missing", 1)).resolves.toBeUndefined();
    });

    it("claimRecoverable claims only sagas of the names it is given", async () => {
      await log.create(sagaRecord("saga-order", { leaseOwner: null, leaseExpiresAt: null }));
      const other = sagaRecord("saga-refund", { leaseOwner: null, leaseExpiresAt: null });
      await log.create({ ...other, definition: { ...other.definition, name: "refund" } });
      expect(await log.claimRecoverable("recoverer", TTL, T0, 100, { names: [] })).toEqual([]);
      const refunds = await log.claimRecoverable("recoverer", TTL, T0, 100, { names: ["refund"] });
      expect(refunds.map((c) => c.sagaId)).toEqual(["saga-refund"]);
      const rest = await log.claimRecoverable("recoverer", TTL, T0, 100);
      expect(rest.map((c) => c.sagaId)).toEqual(["saga-order"]);
    });

    it("claimRecoverable picks only running, compensating and in-doubt sagas", async () => {
      const statuses = Object.values(SagaStatus);
      expect(statuses, "every saga status is enumerated").toHaveLength(7);
      for (const status of statuses) {
        await log.create(
          sagaRecord(`saga-${status}`, { status, leaseOwner: null, leaseExpiresAt: null }),
        );
      }
      const claimed = await log.claimRecoverable("recoverer", TTL, T0, 100);
      expect(claimed.map((c) => c.sagaId).sort()).toEqual(
        RECOVERABLE_STATUSES.map((status) => `saga-${status}`).sort(),
      );
      expect(claimed.map((c) => c.token)).toEqual([2, 2, 2]);
      for (const { sagaId } of claimed) {
        expect((await log.load(sagaId))?.record).toMatchObject({
          leaseOwner: "recoverer",
          leaseExpiresAt: T0 + TTL,
          fencingToken: 2,
        });
      }
    });

    it("claimRecoverable skips live leases and sagas not yet due, and takes expired leases", async () => {
      await log.create(sagaRecord("live", { leaseExpiresAt: T0 + 5_000 }));
      await log.create(sagaRecord("expired", { leaseExpiresAt: T0 - 1 }));
      await log.create(
        sagaRecord("later", { leaseOwner: null, leaseExpiresAt: null, nextRecoveryAt: T0 + 100 }),
      );
      await log.create(
        sagaRecord("due", { leaseOwner: null, leaseExpiresAt: null, nextRecoveryAt: T0 }),
      );
      const first = await log.claimRecoverable("recoverer", TTL, T0, 100);
      expect(first.map((c) => c.sagaId).sort()).toEqual(["due", "expired"]);
      const second = await log.claimRecoverable("recoverer", TTL, T0 + 100, 100);
      expect(
        second.map((c) => c.sagaId),
        "only the saga that just became due",
      ).toEqual(["later"]);
    });

    it("claimRecoverable claims at most `limit` sagas and never the same saga twice while its lease lives", async () => {
      for (const id of ["a", "b", "c"]) {
        await log.create(sagaRecord(id, { leaseOwner: null, leaseExpiresAt: null }));
      }
      expect(await log.claimRecoverable("recoverer", TTL, T0, 0)).toEqual([]);
      const first = await log.claimRecoverable("recoverer", TTL, T0, 2);
      const second = await log.claimRecoverable("recoverer", TTL, T0, 2);
      const third = await log.claimRecoverable("recoverer", TTL, T0, 2);
      expect(first).toHaveLength(2);
      expect(second).toHaveLength(1);
      expect(third).toEqual([]);
      expect([...first, ...second].map((c) => c.sagaId).sort()).toEqual(["a", "b", "c"]);
    });

    it("the token claimRecoverable returns is the one writes must use", async () => {
      await log.create(sagaRecord("saga-1", { leaseExpiresAt: T0 - 1 }));
      const [claim] = await log.claimRecoverable("recoverer", TTL, T0, 1);
      expect(claim).toEqual({ sagaId: "saga-1", token: 2 });
      expect(await reasonOf(log.write("saga-1", 1, { now: T0 }))).toBe("stale_token");
      await log.write("saga-1", 2, { status: SagaStatus.Compensating, now: T0 });
      expect((await log.load("saga-1"))?.record.status).toBe(SagaStatus.Compensating);
    });

    it("list returns sagas newest first and filters by status, name and limit", async () => {
      await log.create(sagaRecord("saga-1"));
      await log.create(sagaRecord("saga-2", { status: SagaStatus.Completed }));
      await log.create(
        sagaRecord("saga-3", { definition: { name: "refund", version: 1, steps: [] } }),
      );
      await log.create(sagaRecord("saga-4", { status: SagaStatus.Completed }));
      const ids = (records: readonly SagaRecord[]) => records.map((r) => r.sagaId);
      expect(ids(await log.list())).toEqual(["saga-4", "saga-3", "saga-2", "saga-1"]);
      expect(ids(await log.list({ status: [SagaStatus.Completed] }))).toEqual(["saga-4", "saga-2"]);
      expect(ids(await log.list({ name: "refund" }))).toEqual(["saga-3"]);
      expect(ids(await log.list({ limit: 2 }))).toEqual(["saga-4", "saga-3"]);
      expect(
        ids(await log.list({ status: [SagaStatus.Running], name: "order", limit: 5 })),
      ).toEqual(["saga-1"]);
      expect((await log.list({ name: "refund" }))[0]).toEqual(
        sagaRecord("saga-3", { definition: { name: "refund", version: 1, steps: [] } }),
      );
    });

    it("list orders by time, not by id: newest created first, or newest updated with orderBy", async () => {
      // Ids like a request's, whose order says nothing about time: "a-" was created last.
      const made = [
        ["z-oldest", 100, 100],
        ["m-middle", 200, 900],
        ["b-tied", 200, 200],
        ["a-newest", 300, 300],
      ] as const;
      for (const [sagaId, created, updated] of made) {
        await log.create(
          sagaRecord(sagaId, {
            status: SagaStatus.Completed,
            createdAt: T0 + created,
            updatedAt: T0 + updated,
          }),
        );
      }
      const ids = (records: readonly SagaRecord[]) => records.map((r) => r.sagaId);
      // Equal times come by id, descending: "m-middle" before "b-tied".
      const byCreation = ["a-newest", "m-middle", "b-tied", "z-oldest"];
      expect(ids(await log.list())).toEqual(byCreation);
      expect(ids(await log.list({ orderBy: "created" }))).toEqual(byCreation);
      expect(ids(await log.list({ orderBy: "updated" }))).toEqual([
        "m-middle",
        "a-newest",
        "b-tied",
        "z-oldest",
      ]);
      // A limit keeps the newest, not the highest ids.
      expect(ids(await log.list({ limit: 2 }))).toEqual(["a-newest", "m-middle"]);
      expect(ids(await log.list({ orderBy: "updated", limit: 1 }))).toEqual(["m-middle"]);
      expect(
        ids(await log.list({ status: [SagaStatus.Completed], orderBy: "updated", limit: 3 })),
      ).toEqual(["m-middle", "a-newest", "b-tied"]);
      await expect(log.list({ orderBy: "id" as never })).rejects.toThrow(
        'Expected `orderBy` to be "created" or "updated", got "id".',
      );
    });

    it("prune deletes only terminal sagas last updated before the cut-off, with their entries", async () => {
      const cutoff = T0 + 100;
      const old = TERMINAL_STATUSES.map((status) => ({ id: `old-${status}`, status }));
      expect(old, "every terminal status is enumerated").toHaveLength(4);
      for (const { id, status } of old) {
        await log.create(sagaRecord(id, { status, leaseOwner: null, leaseExpiresAt: null }));
        await log.write(id, 1, { entries: [stepEntry("reserve", "intent")], now: T0 });
      }
      await log.create(sagaRecord("old-running"));
      await log.create(sagaRecord("old-in-doubt", { status: SagaStatus.InDoubt }));
      await log.create(
        sagaRecord("recent-completed", { status: SagaStatus.Completed, updatedAt: cutoff }),
      );
      // By default only sagas that finished cleanly go; those needing a person stay as evidence.
      expect(await log.prune(cutoff)).toBe(2);
      expect((await log.list()).map((r) => r.sagaId).sort()).toEqual([
        "old-in-doubt",
        "old-needs_attention",
        "old-quarantined",
        "old-running",
        "recent-completed",
      ]);
      await expect(log.prune(cutoff, [SagaStatus.Running])).rejects.toThrow(/not terminal/);
      expect(await log.prune(cutoff, TERMINAL_STATUSES)).toBe(2);
      for (const { id } of old) expect(await log.load(id)).toBeUndefined();
      const left = (await log.list()).map((r) => r.sagaId).sort();
      expect(left).toEqual(["old-in-doubt", "old-running", "recent-completed"]);
      // The entries went with their saga: a new saga under a pruned id starts numbering at 1.
      const [reused] = old;
      if (reused === undefined) throw new Error("no terminal status to reuse");
      await log.create(sagaRecord(reused.id));
      await log.write(reused.id, 1, { entries: [stepEntry("charge", "intent")], now: T0 + 200 });
      expect((await log.load(reused.id))?.entries.map((e) => [e.seq, e.step])).toEqual([
        [1, "charge"],
      ]);
      expect(await log.prune(cutoff, TERMINAL_STATUSES), "a second prune finds nothing more").toBe(
        0,
      );
    });

    it("quarantine marks a saga quarantined so recovery leaves it alone; an unknown saga is a no-op", async () => {
      await log.create(sagaRecord("saga-1", { leaseOwner: null, leaseExpiresAt: null }));
      await log.quarantine("saga-1", { field: "input", message: "not an order" }, T0 + 5);
      const snapshot = await log.load("saga-1");
      expect(snapshot?.record.status).toBe(SagaStatus.Quarantined);
      expect(snapshot?.record.updatedAt).toBe(T0 + 5);
      expect(await log.claimRecoverable("recoverer", TTL, T0 + 10, 10)).toEqual([]);
      expect((await log.list({ status: [SagaStatus.Quarantined] })).map((r) => r.sagaId)).toEqual([
        "saga-1",
      ]);
      await expect(
        log.quarantine("missing", { field: "(record)", message: "gone" }, T0),
      ).resolves.toBeUndefined();
      expect(await log.load("missing")).toBeUndefined();
    });

    it("inputs and outputs come back as their JSON round trip", async () => {
      const input = { orderId: "o-1", lines: [{ sku: "a", qty: 2 }], note: null, flags: [true] };
      await log.create(sagaRecord("saga-1", { input }));
      const output = {
        id: "x",
        amounts: [1, 2.5, -3],
        nested: { ok: true, none: null },
        when: new Date(T0),
        dropped: undefined,
      };
      await log.write("saga-1", 1, {
        entries: [
          stepEntry("reserve", "committed", { output, via: "co_commit" }),
          stepEntry("charge", "unknown", { error: { kind: "timeout", message: "no answer" } }),
        ],
        now: T0 + 1,
      });
      const snapshot = await log.load("saga-1");
      expect(snapshot?.record.input).toEqual(input);
      const [committed, unknown] = snapshot?.entries ?? [];
      expect(committed?.output).toStrictEqual({
        id: "x",
        amounts: [1, 2.5, -3],
        nested: { ok: true, none: null },
        when: new Date(T0).toISOString(),
      });
      expect(committed?.via).toBe("co_commit");
      expect(unknown?.error).toEqual({ kind: "timeout", message: "no answer" });
    });
  });
}
