import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { OperationsLog } from "../../src/log/operations-log.js";
import type { SagaLog } from "../../src/log/saga-log.js";
import { LockstepDefinitionError } from "../../src/model/definition-error.js";
import { OPERATOR_EVENT_SAGA_IDS } from "../../src/model/operator-event.js";
import { type SagaRecord, SagaStatus } from "../../src/model/records.js";
import type { WorkerStatus } from "../../src/model/worker-status.js";
import { printConformanceCount } from "./report.js";
import type { SagaLogFactory } from "./saga-log.js";
import { logFailure, sagaRecord, stepEntry } from "./saga-log.js";

const T0 = 1_700_000_000_000;
const NOW = T0 + 100_000;
const BEFORE = T0 + 50_000;
const dana = { actor: "dana", action: "prune", note: "monthly retention" } as const;

/** A saga last updated at `updatedAt`, in `status`, its lease free unless `lease` says otherwise. */
function ended(
  sagaId: string,
  status: SagaRecord["status"],
  updatedAt: number,
  lease: { owner: string; until: number } | undefined = undefined,
): SagaRecord {
  return sagaRecord(sagaId, {
    status,
    createdAt: updatedAt,
    updatedAt,
    leaseOwner: lease?.owner ?? null,
    leaseExpiresAt: lease?.until ?? null,
  });
}

/** A worker's report, heartbeat at `at`. */
export function workerStatus(workerId: string, at: number, extra: Partial<WorkerStatus> = {}) {
  return {
    workerId,
    host: "box-1",
    pid: 4242,
    startedAt: T0,
    heartbeatAt: at,
    intervalMs: 30_000,
    stoppedAt: null,
    passes: 3,
    failedPasses: 1,
    lastPass: { startedAt: at - 20, at, claimed: 2, counts: { completed: 1, compensated: 1 } },
    lastError: { at: at - 1_000, message: "the log's disk is full" },
    ...extra,
  } satisfies WorkerStatus;
}

/**
 * Registers a `describe` block that holds a saga log's `operations` to the `OperationsLog` port:
 * the operator's prune and its event, and recovery workers' reports. Every log lockstep ships keeps
 * them, so a log without `operations` fails here.
 */
export function operationsLogConformance(name: string, factory: SagaLogFactory): void {
  describe(`OperationsLog conformance: ${name}`, () => {
    printConformanceCount("operations log", name);
    let log: SagaLog;
    let ops: OperationsLog;
    let close: () => Promise<void>;

    beforeEach(async () => {
      const opened = await factory();
      log = opened.log;
      close = () => opened.close();
      if (log.operations === undefined) throw new Error(`${name} keeps no operations`);
      ops = log.operations;
    });

    afterEach(async () => {
      await close();
    });

    it("prune deletes the old sagas of the statuses asked whose lease is not held, and records who, when and what", async () => {
      const seeded: [SagaRecord, boolean][] = [
        [ended("c-1", SagaStatus.Completed, T0), true],
        [ended("c-2", SagaStatus.Compensated, T0 + 10), true],
        // A runner still holds its lease: left, and counted as skipped.
        [ended("c-3", SagaStatus.Completed, T0, { owner: "runner-b", until: NOW + 1 }), false],
        // Its lease lapsed: pruned like any other.
        [ended("c-4", SagaStatus.Completed, T0, { owner: "runner-c", until: NOW }), true],
        [ended("r-1", SagaStatus.Running, T0), false],
        [ended("n-1", SagaStatus.NeedsAttention, T0), false],
        [ended("y-1", SagaStatus.Completed, BEFORE), false],
      ];
      for (const [record] of seeded) {
        await log.create(record, [stepEntry("reserve", "intent")]);
      }
      const event = await ops.prune({ before: BEFORE, now: NOW, operator: dana });
      expect(event).toMatchObject({
        ...dana,
        at: NOW,
        request: { before: BEFORE, statuses: [SagaStatus.Completed, SagaStatus.Compensated] },
        changed: 3,
        skipped: 1,
        sagaIds: ["c-1", "c-2", "c-4"],
      });
      expect(event.eventId.length).toBeGreaterThan(0);
      for (const [record, pruned] of seeded) {
        const snapshot = await log.load(record.sagaId);
        expect(snapshot === undefined, `${record.sagaId} pruned`).toBe(pruned);
        if (!pruned) expect(snapshot?.entries).toHaveLength(1);
      }
      expect(seeded.filter(([, pruned]) => pruned)).toHaveLength(3);
      expect(await ops.events()).toEqual([event]);
      // Its entries went with it: a saga created again under a pruned id starts numbering at 1.
      await log.create(sagaRecord("c-1"), [stepEntry("reserve", "intent")]);
      expect((await log.load("c-1"))?.entries.map((e) => e.seq)).toEqual([1]);
    });

    it("prune of the statuses named, and of nothing, records its event all the same", async () => {
      await log.create(ended("n-1", SagaStatus.NeedsAttention, T0));
      await log.create(ended("q-1", SagaStatus.Quarantined, T0));
      const nothing = await ops.prune({ before: T0, now: NOW, operator: dana });
      expect([nothing.changed, nothing.skipped, nothing.sagaIds]).toEqual([0, 0, []]);
      const named = await ops.prune({
        before: BEFORE,
        statuses: [SagaStatus.NeedsAttention],
        now: NOW + 1,
        operator: { ...dana, note: "" },
      });
      expect([named.changed, named.sagaIds, named.request]).toEqual([
        1,
        ["n-1"],
        { before: BEFORE, statuses: [SagaStatus.NeedsAttention] },
      ]);
      expect(await log.load("q-1")).toBeDefined();
      expect((await ops.events()).map((e) => e.eventId)).toEqual([named.eventId, nothing.eventId]);
      expect((await ops.events({ limit: 1 })).map((e) => e.eventId)).toEqual([named.eventId]);
      expect(await ops.events({ limit: 0 })).toEqual([]);
    });

    it(`prune keeps the first ${OPERATOR_EVENT_SAGA_IDS} ids of a larger prune, in id order, and counts them all`, async () => {
      const total = OPERATOR_EVENT_SAGA_IDS + 3;
      const ids = Array.from(
        { length: total },
        (_, i) => `s-${String(total - i).padStart(3, "0")}`,
      );
      for (const sagaId of ids) await log.create(ended(sagaId, SagaStatus.Completed, T0));
      const event = await ops.prune({ before: BEFORE, now: NOW, operator: dana });
      expect(event.changed).toBe(total);
      expect(event.sagaIds).toEqual([...ids].sort().slice(0, OPERATOR_EVENT_SAGA_IDS));
      expect(await log.list()).toEqual([]);
      expect((await ops.events())[0]).toEqual(event);
    });

    it("prune refuses a live status, no status, a bad cut-off or time, and a nameless operator, deleting and recording nothing", async () => {
      await log.create(ended("c-1", SagaStatus.Completed, T0));
      const refused: [Parameters<OperationsLog["prune"]>[0], string][] = [
        [
          { before: BEFORE, statuses: [SagaStatus.Running], now: NOW, operator: dana },
          "not terminal",
        ],
        [
          { before: BEFORE, statuses: [], now: NOW, operator: dana },
          "at least one terminal status",
        ],
        [{ before: Number.POSITIVE_INFINITY, now: NOW, operator: dana }, "`before`"],
        [{ before: BEFORE, now: -1, operator: dana }, "`now`"],
        [{ before: BEFORE, now: NOW, operator: { ...dana, actor: "" } }, '`operator.actor` is ""'],
      ];
      for (const [request, message] of refused) {
        const call = ops.prune(request);
        await expect(call).rejects.toThrow(LockstepDefinitionError);
        await expect(call).rejects.toThrow(message);
      }
      expect(refused).toHaveLength(5);
      expect(await log.load("c-1")).toBeDefined();
      expect(await ops.events()).toEqual([]);
    });

    it("prune whose event cannot be recorded deletes nothing: the event and the deletion commit together", async () => {
      await log.create(ended("c-1", SagaStatus.Completed, T0));
      // Every event gets the same id (patched by hand: this suite also runs outside vitest, on Bun
      // and Deno), so the second prune's event cannot be recorded.
      const uuid = "00000000-0000-4000-8000-000000000001" as const;
      Object.defineProperty(globalThis.crypto, "randomUUID", {
        value: () => uuid,
        configurable: true,
      });
      let first: Awaited<ReturnType<OperationsLog["prune"]>>;
      try {
        first = await ops.prune({ before: T0, now: NOW, operator: dana });
        // The same event id again: recording it fails, so its deletion must not stand.
        await logFailure(ops.prune({ before: BEFORE, now: NOW, operator: dana }));
      } finally {
        Reflect.deleteProperty(globalThis.crypto, "randomUUID");
      }
      expect(
        await log.load("c-1"),
        "deleted by a prune whose event was not recorded",
      ).toBeDefined();
      expect(await ops.events()).toEqual([first]);
    });

    it("reportWorker keeps each worker's latest report; workers lists them, the most recent heartbeat first", async () => {
      await ops.reportWorker(workerStatus("worker-a", T0 + 1));
      await ops.reportWorker(workerStatus("worker-b", T0 + 2, { host: null, pid: null }));
      expect((await ops.workers()).map((w) => [w.workerId, w.heartbeatAt])).toEqual([
        ["worker-b", T0 + 2],
        ["worker-a", T0 + 1],
      ]);
      const stopped = workerStatus("worker-a", T0 + 3, {
        stoppedAt: T0 + 3,
        passes: 4,
        lastError: null,
      });
      await ops.reportWorker(stopped);
      const workers = await ops.workers();
      expect(workers).toEqual([
        stopped,
        workerStatus("worker-b", T0 + 2, { host: null, pid: null }),
      ]);
      expect((await ops.workers({ limit: 1 })).map((w) => w.workerId)).toEqual(["worker-a"]);
    });

    it("prune forgets the workers last heard from before its cut-off, and keeps the others", async () => {
      await ops.reportWorker(workerStatus("gone", BEFORE - 1, { stoppedAt: BEFORE - 1 }));
      await ops.reportWorker(workerStatus("silent", BEFORE - 10));
      await ops.reportWorker(workerStatus("live", BEFORE + 1));
      await ops.prune({ before: BEFORE, now: NOW, operator: dana });
      expect((await ops.workers()).map((w) => w.workerId)).toEqual(["live"]);
    });

    it("reportWorker refuses an invalid report, naming the field, and stores nothing", async () => {
      const error = await logFailure(
        ops.reportWorker({ ...workerStatus("worker-a", T0), passes: -1 }),
      );
      expect([error.reason, error.field]).toEqual(["corrupt", "passes"]);
      expect(await ops.workers()).toEqual([]);
    });
  });
}
