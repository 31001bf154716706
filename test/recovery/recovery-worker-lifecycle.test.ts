import { getEventListeners } from "node:events";
import { describe, expect, it, vi } from "vitest";
import { createRecoveryWorker, type Logger, type RecoveryWorkerEvent } from "../../src/index.js";
import type { Relay } from "../../src/outbox/relay.js";
import type { RelayPass } from "../../src/outbox/relay-events.js";
import { workerWorld } from "./support/worker-world.js";

type Pass = Extract<RecoveryWorkerEvent, { type: "recovery.pass" }>;
const isPass = (e: RecoveryWorkerEvent): e is Pass => e.type === "recovery.pass";
type Log = (fields: Record<string, unknown>, message: string) => void;
const logger = () =>
  ({ debug: vi.fn<Log>(), warn: vi.fn<Log>(), error: vi.fn<Log>() }) satisfies Logger;

/** Resolves once `test` holds, checking on each turn of the event loop. */
const until = (test: () => boolean) =>
  new Promise<void>((resolve) => {
    const check = () => (test() ? resolve() : setImmediate(check));
    check();
  });

/** A relay pass that claimed `claimed` messages and delivered them. */
const relayPass = (claimed: number): RelayPass => ({
  claimed,
  delivered: claimed,
  duplicates: 0,
  retried: 0,
  dead: 0,
  fenced: 0,
});

/** A relay whose passes claim `claims[0]`, `claims[1]`, … messages, then none. */
function fakeRelay(claims: readonly (number | Error)[]) {
  let call = 0;
  const runOnce = vi.fn(async (_signal?: AbortSignal) => {
    const next = claims[call++] ?? 0;
    if (next instanceof Error) throw next;
    return relayPass(next);
  });
  return { relay: { runOnce } as unknown as Relay, runOnce };
}

describe("a recovery worker while it runs", () => {
  it("says it is running, and with no listener and no relay logs nothing but what it did", async () => {
    const w = workerWorld();
    const log = logger();
    const worker = createRecoveryWorker({
      runner: w.runner,
      sagas: [w.saga],
      jitter: 0,
      pollIntervalMs: 100,
      logger: log,
    });
    await w.clock.run(until(() => w.log.claimCalls >= 3));
    expect(worker.running).toBe(true);
    await w.clock.run(worker.stop());
    expect(worker.running).toBe(false);
    expect(log.warn).not.toHaveBeenCalled();
    expect(log.error).not.toHaveBeenCalled();
    expect(log.debug).not.toHaveBeenCalled();
  });

  it("keeps going when its listener throws and it has no logger to tell", async () => {
    const w = workerWorld();
    let calls = 0;
    const worker = w.start({
      pollIntervalMs: 100,
      onEvent: () => {
        calls++;
        throw new Error("listener bug");
      },
    });
    await w.clock.run(until(() => calls >= 3));
    const summary = await w.clock.run(worker.stop());
    expect(summary.reason).toBe("stopped");
    expect(summary.passes).toBeGreaterThanOrEqual(3);
  });

  it("logs a pass that claimed sagas at debug, with what it claimed, and idle passes not at all", async () => {
    const w = workerWorld();
    await w.crash("a");
    const log = logger();
    const worker = w.start({ pollIntervalMs: 100, logger: log });
    await w.clock.run(w.next((e) => isPass(e) && e.pass === 3));
    await w.clock.run(worker.stop());
    const first = w.passes()[0] as Pass;
    expect(log.debug).toHaveBeenCalledTimes(1);
    expect(log.debug).toHaveBeenCalledWith(
      { owner: "worker-1", pass: 1, claimed: 1, counts: first.counts },
      "lockstep: a recovery pass claimed sagas",
    );
    expect(first.counts.completed).toBe(1);
  });

  it("logs a failed pass at warn with its number, the failures in a row, the wait and the error", async () => {
    const w = workerWorld();
    w.log.failClaims = 2;
    const log = logger();
    const worker = w.start({ pollIntervalMs: 100, logger: log });
    await w.clock.run(w.next(isPass));
    await w.clock.run(worker.stop());
    const error = "A recovery pass could not claim sagas from the log: the log's disk is full.";
    expect(log.warn.mock.calls).toEqual([
      [
        { owner: "worker-1", pass: 1, consecutiveFailures: 1, nextPollMs: 100, error },
        "lockstep: a recovery pass failed; the worker retries it with backoff",
      ],
      [
        { owner: "worker-1", pass: 2, consecutiveFailures: 2, nextPollMs: 200, error },
        "lockstep: a recovery pass failed; the worker retries it with backoff",
      ],
    ]);
  });

  it("carries on after a failed pass with status reports off", async () => {
    const w = workerWorld();
    w.log.failClaims = 1;
    const worker = w.start({ pollIntervalMs: 100, reportStatus: false });
    await w.clock.run(w.next(isPass));
    const summary = await w.clock.run(worker.stop());
    expect(summary.failedPasses).toBe(1);
    expect(summary.passes).toBe(2);
    expect(await w.log.operations.workers()).toEqual([]);
  });

  it("reports no status, and logs nothing of it, on a log that keeps no operations", async () => {
    const w = workerWorld();
    // A log of another kind, with no `operations`.
    Object.defineProperty(w.log, "operations", { value: undefined });
    const log = logger();
    const worker = createRecoveryWorker({
      runner: w.runner,
      sagas: [w.saga],
      pollIntervalMs: 100,
      logger: log,
      onEvent: w.onEvent,
    });
    await w.clock.run(w.next((e) => isPass(e) && e.pass === 2));
    const summary = await w.clock.run(worker.stop());
    expect(summary.passes).toBe(2);
    expect(log.warn).not.toHaveBeenCalled();
  });

  it("gives no relay tallies on its passes when it has no relay", async () => {
    const w = workerWorld();
    const worker = w.start({ pollIntervalMs: 100 });
    await w.clock.run(w.next(isPass));
    await w.clock.run(worker.stop());
    expect(Object.keys(w.passes()[0] as Pass)).not.toContain("relay");
  });
});

describe("a recovery worker with an outbox relay", () => {
  it("runs a relay pass after each of its own, and polls again at once after one that claimed messages", async () => {
    const w = workerWorld();
    const { relay, runOnce } = fakeRelay([1, 0, 0, 0]);
    const worker = w.start({ pollIntervalMs: 100, relay });
    await w.clock.run(w.next((e) => isPass(e) && e.pass === 4));
    await w.clock.run(worker.stop());
    const passes = w.passes() as Pass[];
    // The relay's work counts as work: the wait starts over from pollIntervalMs.
    expect(passes.map((p) => p.nextPollMs)).toEqual([0, 100, 200, 400]);
    expect(passes.map((p) => p.relay)).toEqual([1, 0, 0, 0].map(relayPass));
    expect(runOnce.mock.calls.length).toBe(4);
    expect(runOnce.mock.calls[0]?.[0]).toBeInstanceOf(AbortSignal);
  });

  it("keeps its own backoff when the relay claims nothing", async () => {
    const w = workerWorld();
    const { relay } = fakeRelay([0, 1, 0]);
    const worker = w.start({ pollIntervalMs: 100, relay });
    await w.clock.run(w.next((e) => isPass(e) && e.pass === 4));
    await w.clock.run(worker.stop());
    expect((w.passes() as Pass[]).map((p) => p.nextPollMs)).toEqual([100, 0, 100, 200]);
  });

  it("runs no relay pass after a pass during which it was asked to stop", async () => {
    const w = workerWorld();
    await w.crash("slow");
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let release!: () => void;
    w.hooks.gate = () => {
      entered();
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    };
    const { relay, runOnce } = fakeRelay([1]);
    const worker = w.start({ relay });
    await w.clock.run(inside);
    const stopping = worker.stop();
    release();
    const summary = await w.clock.run(stopping);
    expect(summary.passes).toBe(1);
    expect(summary.recovered.completed).toBe(1);
    expect(runOnce).not.toHaveBeenCalled();
  });

  it("carries on after a relay pass the log failed with no logger to tell", async () => {
    const w = workerWorld();
    const { relay, runOnce } = fakeRelay([new Error("the outbox table is locked"), 0]);
    const worker = w.start({ pollIntervalMs: 100, relay });
    await w.clock.run(w.next((e) => isPass(e) && e.pass === 2));
    const summary = await w.clock.run(worker.stop());
    expect(summary.reason).toBe("stopped");
    expect(runOnce).toHaveBeenCalledTimes(2);
  });

  it("logs a relay pass the log failed at warn and tries the relay again next pass", async () => {
    const w = workerWorld();
    const { relay, runOnce } = fakeRelay([new Error("the outbox table is locked"), 0]);
    const log = logger();
    const worker = w.start({ pollIntervalMs: 100, relay, logger: log });
    await w.clock.run(w.next((e) => isPass(e) && e.pass === 2));
    await w.clock.run(worker.stop());
    expect(log.warn).toHaveBeenCalledTimes(1);
    expect(log.warn).toHaveBeenCalledWith(
      { owner: "worker-1", pass: 1, error: "the outbox table is locked" },
      "lockstep: an outbox relay pass failed; the worker tries it again next pass",
    );
    const [first, second] = w.passes() as Pass[];
    expect(first?.relay).toBeUndefined();
    expect(first?.nextPollMs).toBe(100);
    expect(second?.relay).toEqual(relayPass(0));
    expect(runOnce).toHaveBeenCalledTimes(2);
  });
});

describe("a stopping recovery worker's leases", () => {
  /** A world with saga `stuck` whose first drive the log fails, leaving worker-1's lease held. */
  async function stuck() {
    const w = workerWorld();
    await w.crash("stuck");
    w.log.failCompletion.add("saga-stuck");
    return w;
  }

  it("releases a lease held since an earlier pass, not only the last one's", async () => {
    const w = await stuck();
    const worker = w.start({ pollIntervalMs: 100 });
    await w.clock.run(w.next((e) => isPass(e) && e.pass === 3));
    expect((w.passes() as Pass[]).map((p) => p.claimed)).toEqual([1, 0, 0]);
    expect((await w.log.load("saga-stuck"))?.record.leaseOwner).toBe("worker-1");
    const summary = await w.clock.run(worker.stop());
    expect(summary.released).toBe(1);
    expect((await w.log.load("saga-stuck"))?.record.leaseOwner).toBeNull();
  });

  it("leaves alone a lease another runner has taken since", async () => {
    const w = await stuck();
    const worker = w.start({ pollIntervalMs: 60_000 });
    await w.clock.run(w.next(isPass));
    // Another runner, whose clock runs ahead, found the lease lapsed and took the saga.
    await w.log.acquireLease("saga-stuck", "worker-2", 60_000, w.clock.now() + 30_001);
    const summary = await w.clock.run(worker.stop());
    expect(summary.released).toBe(0);
    expect((await w.log.load("saga-stuck"))?.record.leaseOwner).toBe("worker-2");
  });

  it("does not count as released a lease that lapsed by the time it stopped", async () => {
    const w = await stuck();
    const worker = w.start({ pollIntervalMs: 60_000 });
    await w.clock.run(w.next(isPass));
    const expiresAt = (await w.log.load("saga-stuck"))?.record.leaseExpiresAt ?? 0;
    expect(expiresAt).toBeGreaterThan(w.clock.now());
    // Stopped the very moment the lease lapses.
    w.clock.advance(expiresAt - w.clock.now());
    const summary = await w.clock.run(worker.stop());
    expect(w.clock.now()).toBe(expiresAt);
    expect(summary.released).toBe(0);
  });

  it("skips, without complaint, a saga gone from the log by the time it stopped", async () => {
    const w = await stuck();
    const log = logger();
    const worker = w.start({ pollIntervalMs: 60_000, logger: log });
    await w.clock.run(w.next(isPass));
    vi.spyOn(w.log, "load").mockResolvedValue(undefined);
    const summary = await w.clock.run(worker.stop());
    expect(summary.released).toBe(0);
    expect(log.error).not.toHaveBeenCalled();
  });

  it("logs a lease it could not release at error and still stops", async () => {
    const w = await stuck();
    const log = logger();
    const worker = w.start({ pollIntervalMs: 60_000, logger: log });
    await w.clock.run(w.next(isPass));
    vi.spyOn(w.log, "releaseLease").mockRejectedValue(new Error("connection reset"));
    const summary = await w.clock.run(worker.stop());
    expect(summary.released).toBe(0);
    expect(log.error).toHaveBeenCalledWith(
      { owner: "worker-1", sagaId: "saga-stuck", error: "connection reset" },
      "lockstep: a stopping recovery worker could not release its lease; it lapses on its own",
    );
  });

  it("still stops when a release fails and no logger is there to tell", async () => {
    const w = await stuck();
    const worker = w.start({ pollIntervalMs: 60_000 });
    await w.clock.run(w.next(isPass));
    vi.spyOn(w.log, "releaseLease").mockRejectedValue(new Error("connection reset"));
    const summary = await w.clock.run(worker.stop());
    expect(summary).toMatchObject({ reason: "stopped", released: 0 });
  });

  it("stops listening to its abort signal once stopped", async () => {
    const w = workerWorld();
    const controller = new AbortController();
    const worker = w.start({ pollIntervalMs: 100, signal: controller.signal });
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    await w.clock.run(w.next(isPass));
    await w.clock.run(worker.stop());
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });
});
