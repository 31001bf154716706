import { describe, expect, it, vi } from "vitest";
import {
  createRecoveryWorker,
  LockstepDefinitionError,
  type Logger,
  type RecoveryWorkerEvent,
} from "../../src/index.js";
import { workerWorld } from "./support/worker-world.js";

type Pass = Extract<RecoveryWorkerEvent, { type: "recovery.pass" | "recovery.pass_failed" }>;
const isPass = (e: RecoveryWorkerEvent): e is Pass =>
  e.type === "recovery.pass" || e.type === "recovery.pass_failed";

describe("a recovery worker's status reports", () => {
  it("reports after each pass and when it stops: who, where, its heartbeat, its last pass and its last error", async () => {
    const w = workerWorld();
    const { clock } = w;
    const started = clock.now();
    const worker = w.start({
      pollIntervalMs: 100,
      maxPollIntervalMs: 800,
      reportStatus: { host: "box-1", pid: 77 },
    });
    const workers = async () => (await w.log.operations.workers()) ?? [];
    await clock.run(w.next((e) => isPass(e) && e.pass === 1));
    const first = w.events.find(isPass) as Pass;
    expect(await workers()).toEqual([
      {
        workerId: "worker-1",
        host: "box-1",
        pid: 77,
        startedAt: started,
        heartbeatAt: first.at,
        intervalMs: 800,
        stoppedAt: null,
        passes: 1,
        failedPasses: 0,
        lastPass: expect.objectContaining({ startedAt: first.startedAt, at: first.at, claimed: 0 }),
        lastError: null,
      },
    ]);

    await w.crash("late");
    await clock.run(w.next((e) => e.type === "recovery.pass" && e.claimed > 0));
    const busy = w.events.filter(isPass).at(-1) as Pass;
    const [afterBusy] = await workers();
    expect(afterBusy?.heartbeatAt).toBe(busy.at);
    expect(afterBusy?.passes).toBe(busy.pass);
    expect(afterBusy?.lastPass?.claimed).toBe(1);
    expect(afterBusy?.lastPass?.counts.completed).toBe(1);

    w.log.failClaims = 1;
    await clock.run(w.next((e) => e.type === "recovery.pass_failed"));
    const [afterFailure] = await workers();
    expect(afterFailure?.failedPasses).toBe(1);
    expect(afterFailure?.lastError?.message).toContain("the log's disk is full");
    // The last pass that ran is still the one shown.
    expect(afterFailure?.lastPass?.claimed).toBe(1);

    const summary = await clock.run(worker.stop());
    const stopped = w.events.at(-1) as RecoveryWorkerEvent;
    const [last] = await workers();
    expect(last?.stoppedAt).toBe(stopped.at);
    expect(last?.passes).toBe(summary.passes);
    expect(await w.log.operations.workers()).toHaveLength(1);
  });

  it("names the process it runs in by default, and no host", async () => {
    const w = workerWorld();
    const worker = w.start();
    await w.clock.run(w.next(isPass));
    const [status] = await w.log.operations.workers();
    expect([status?.workerId, status?.pid, status?.host]).toEqual(["worker-1", process.pid, null]);
    await w.clock.run(worker.stop());
  });

  it("reports nothing with reportStatus: false", async () => {
    const w = workerWorld();
    const worker = w.start({ reportStatus: false });
    await w.clock.run(w.next((e) => isPass(e) && e.pass === 2));
    await w.clock.run(worker.stop());
    expect(await w.log.operations.workers()).toEqual([]);
  });

  it("gives a report the log failed to the logger and carries on with its passes", async () => {
    const w = workerWorld();
    const report = vi
      .spyOn(w.log.operations, "reportWorker")
      .mockRejectedValue(new Error("the status table is gone"));
    const warn = vi.fn<Logger["warn"]>();
    const worker = w.start({
      pollIntervalMs: 100,
      logger: { debug: vi.fn(), warn, error: vi.fn() },
    });
    await w.clock.run(w.next((e) => isPass(e) && e.pass === 3));
    const summary = await w.clock.run(worker.stop());
    expect(summary.passes).toBeGreaterThanOrEqual(3);
    expect(summary.failedPasses).toBe(0);
    // One report a pass, and one on stopping: each failed, each logged, none stopped the worker.
    expect(report).toHaveBeenCalledTimes(summary.passes + 1);
    expect(warn).toHaveBeenCalledTimes(summary.passes + 1);
    expect(warn).toHaveBeenCalledWith(
      { owner: "worker-1", error: "the status table is gone" },
      "lockstep: a recovery worker could not report its status to the log; it reports again after its next pass",
    );
  });

  it("refuses a reportStatus it cannot use, naming the value", () => {
    const w = workerWorld();
    const cases: [unknown, string][] = [
      ["yes", 'Expected `reportStatus` to be a boolean or { host, pid }, got `"yes"` (string).'],
      [
        { host: 7 },
        "Expected `reportStatus.host` to be a string of at most 255 characters, got `7` (number).",
      ],
      [{ pid: -1 }, "Expected `reportStatus.pid` to be an integer >= 0, got `-1` (number)."],
    ];
    for (const [reportStatus, message] of cases) {
      const make = () =>
        createRecoveryWorker({
          runner: w.runner,
          sagas: [w.saga],
          reportStatus: reportStatus as boolean,
        });
      expect(make).toThrow(LockstepDefinitionError);
      expect(make).toThrow(message);
    }
    expect(cases).toHaveLength(3);
  });
});
