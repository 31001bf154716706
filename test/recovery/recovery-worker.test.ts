import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { describe, expect, it, vi } from "vitest";
import {
  createRecoveryWorker,
  ErrorCode,
  LockstepDefinitionError,
  type Logger,
  otelRecoveryListener,
  type RecoveryWorkerEvent,
} from "../../src/index.js";
import { workerWorld } from "./support/worker-world.js";

type Pass = Extract<RecoveryWorkerEvent, { type: "recovery.pass" }>;
type Failed = Extract<RecoveryWorkerEvent, { type: "recovery.pass_failed" }>;

const isPass = (e: RecoveryWorkerEvent): e is Pass => e.type === "recovery.pass";
const logger = () => {
  type Log = (fields: Record<string, unknown>, message: string) => void;
  const log = { debug: vi.fn<Log>(), warn: vi.fn<Log>(), error: vi.fn<Log>() };
  return log satisfies Logger;
};

describe("createRecoveryWorker", () => {
  it("recovers sagas that appear while it runs", async () => {
    const w = workerWorld();
    const { clock } = w;
    const worker = w.start({ pollIntervalMs: 100 });
    await clock.run(w.next((e) => isPass(e) && e.pass === 3));
    expect(w.passes().every((p) => isPass(p) && p.claimed === 0)).toBe(true);

    await w.crash("late");
    await clock.run(w.next((e) => isPass(e) && e.claimed > 0));
    const busy = w.passes().at(-1) as Pass;
    expect(busy.counts.completed, JSON.stringify(busy.report)).toBe(1);
    expect(busy.report.sagas.map((s) => s.sagaId)).toEqual(["saga-late"]);
    expect(w.store.snapshot()["label:late"]?.value).toEqual({ id: "late" });
    expect((await w.log.load("saga-late"))?.record.status).toBe("completed");

    const summary = await clock.run(worker.stop());
    expect(summary.reason).toBe("stopped");
    expect(summary.recovered.completed).toBe(1);
    expect(summary.passes).toBe(w.passes().length);
    expect(w.events.at(-1)?.type).toBe("recovery.stopped");
  });

  it("backs off while the log is idle: each wait doubles up to maxPollIntervalMs", async () => {
    const w = workerWorld();
    const { clock } = w;
    const worker = w.start({ pollIntervalMs: 100, maxPollIntervalMs: 800 });
    const started = clock.now();
    await clock.run(w.next((e) => isPass(e) && e.pass === 8));
    const passes = w.passes() as Pass[];
    expect(passes.map((p) => p.nextPollMs)).toEqual([100, 200, 400, 800, 800, 800, 800, 800]);
    // The passes really were that far apart on the clock: 8 polls in 2,300 ms, not 23.
    expect(passes.map((p) => p.startedAt - started)).toEqual([
      0, 100, 300, 700, 1_500, 2_300, 3_100, 3_900,
    ]);
    expect(w.log.claimCalls).toBe(8);
    await clock.run(worker.stop());
  });

  it("polls again at once after a pass that claimed its whole limit, then at the interval", async () => {
    const w = workerWorld();
    const { clock } = w;
    await w.crash("a");
    await w.crash("b");
    const worker = w.start({ limit: 1, pollIntervalMs: 100 });
    await clock.run(w.next((e) => isPass(e) && e.pass === 4));
    const passes = w.passes() as Pass[];
    expect(passes.map((p) => [p.claimed, p.nextPollMs])).toEqual([
      [1, 0],
      [1, 0],
      [0, 100],
      [0, 200],
    ]);
    expect((await clock.run(worker.stop())).recovered.completed).toBe(2);
  });

  it("jitters its waits with the runner's random", async () => {
    const w = workerWorld();
    const { clock } = w;
    const worker = w.start({ pollIntervalMs: 1_000, jitter: 0.2 });
    await clock.run(w.next((e) => isPass(e) && e.pass === 2));
    // random() is 0.5: each wait is cut by 0.2 × 0.5 of itself.
    expect((w.passes() as Pass[]).map((p) => p.nextPollMs)).toEqual([900, 1_800]);
    await clock.run(worker.stop());
  });

  it("stop() waits for the pass in flight, then resolves with no lease left held", async () => {
    const w = workerWorld({ virtual: false });
    await w.crash("slow");
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    w.hooks.gate = () => {
      entered();
      return held;
    };
    const worker = createRecoveryWorker({ runner: w.runner, sagas: [w.saga], onEvent: w.onEvent });
    await inside;
    let stopped = false;
    const stopping = worker.stop().then((summary) => {
      stopped = true;
      return summary;
    });
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(stopped, "stop() resolved while its pass was still driving a saga").toBe(false);
    expect((await w.log.load("saga-slow"))?.record.leaseOwner).toBe("worker-1");
    release();
    const summary = await stopping;
    expect(summary.passes).toBe(1);
    expect(summary.recovered.completed).toBe(1);
    const record = (await w.log.load("saga-slow"))?.record;
    expect(record?.status).toBe("completed");
    expect(record?.leaseOwner).toBeNull();
    expect(worker.running).toBe(false);
  });

  it("releases on stopping a lease its pass left held when the log failed mid-drive", async () => {
    const w = workerWorld();
    const { clock } = w;
    await w.crash("stuck");
    w.log.failCompletion.add("saga-stuck");
    const worker = w.start();
    await clock.run(w.next(isPass));
    expect((w.passes()[0] as Pass).counts.failed).toBe(1);
    const before = (await w.log.load("saga-stuck"))?.record;
    // Without the release, the saga would wait out the lease of a worker that has gone.
    expect(before?.leaseOwner).toBe("worker-1");
    expect(before?.leaseExpiresAt).toBeGreaterThan(clock.now());
    const summary = await clock.run(worker.stop());
    expect(summary.released).toBe(1);
    const after = (await w.log.load("saga-stuck"))?.record;
    expect(after?.leaseOwner).toBeNull();
    expect(after?.status).toBe("running");
    const held = (await w.log.list()).filter((r) => r.leaseOwner === "worker-1");
    expect(held).toEqual([]);
  });

  it("stops when its abort signal aborts, leaving no timer behind", async () => {
    const w = workerWorld();
    const { clock } = w;
    const controller = new AbortController();
    const worker = w.start({
      pollIntervalMs: 100,
      signal: controller.signal,
      onEvent: (event) => {
        w.onEvent(event);
        if (isPass(event) && event.pass === 2) controller.abort();
      },
    });
    const summary = await clock.run(worker.stopped);
    expect(summary.reason).toBe("aborted");
    expect(summary.passes).toBe(2);
    expect(w.passes()).toHaveLength(2);
    expect(clock.pending, "the worker left a timer pending after it stopped").toBe(0);
    expect(worker.running).toBe(false);
    // stop() after the fact resolves to the same summary.
    expect(await worker.stop()).toBe(summary);
  });

  it("runs no pass at all when its signal is already aborted", async () => {
    const w = workerWorld();
    const worker = w.start({ signal: AbortSignal.abort() });
    const summary = await w.clock.run(worker.stopped);
    expect(summary).toMatchObject({ reason: "aborted", passes: 0, released: 0 });
    expect(w.log.claimCalls).toBe(0);
  });

  it("reports a failing pass and retries it with backoff, then recovers", async () => {
    const w = workerWorld();
    const { clock } = w;
    await w.crash("after-outage");
    w.log.failClaims = 3;
    const log = logger();
    const worker = w.start({ pollIntervalMs: 100, logger: log });
    await clock.run(w.next(isPass));
    const failures = w.events.filter((e): e is Failed => e.type === "recovery.pass_failed");
    expect(failures.map((f) => [f.pass, f.consecutiveFailures, f.nextPollMs])).toEqual([
      [1, 1, 100],
      [2, 2, 200],
      [3, 3, 400],
    ]);
    expect(failures[0]?.error.code).toBe(ErrorCode.LogFailed);
    expect(failures[0]?.error.message).toContain("the log's disk is full");
    expect(log.warn).toHaveBeenCalledTimes(3);
    expect(log.warn.mock.calls[0]?.[1]).toBe(
      "lockstep: a recovery pass failed; the worker retries it with backoff",
    );
    const recovered = w.passes()[0] as Pass;
    expect(recovered.pass).toBe(4);
    expect(recovered.counts.completed).toBe(1);
    expect((await clock.run(worker.stop())).failedPasses).toBe(3);
  });

  it("gives a listener's error to the logger and keeps going", async () => {
    const w = workerWorld();
    const { clock } = w;
    const log = logger();
    let calls = 0;
    const worker = w.start({
      logger: log,
      onEvent: () => {
        calls++;
        throw new Error("listener bug");
      },
    });
    await clock.run(
      new Promise<void>((resolve) => {
        const check = () => (calls >= 2 ? resolve() : setImmediate(check));
        check();
      }),
    );
    expect(log.error).toHaveBeenCalledWith(
      { owner: "worker-1", error: "listener bug" },
      "lockstep: a recovery worker listener threw",
    );
    await clock.run(worker.stop());
  });

  it("installs no process signal handler", async () => {
    const w = workerWorld();
    const before = ["SIGTERM", "SIGINT"].map((s) => process.listenerCount(s));
    const worker = createRecoveryWorker({ runner: w.runner, sagas: [w.saga] });
    expect(["SIGTERM", "SIGINT"].map((s) => process.listenerCount(s))).toEqual(before);
    await w.clock.run(worker.stop());
  });

  it("refuses bad pacing options, naming the value", () => {
    const w = workerWorld();
    const make = (extra: object) => () =>
      createRecoveryWorker({ runner: w.runner, sagas: [w.saga], ...extra });
    const cases: [object, string][] = [
      [
        { pollIntervalMs: 3_000_000_000 },
        "Expected `pollIntervalMs` to be an integer from 1 to 2147483647, got `3000000000` (number).",
      ],
      [
        { maxPollIntervalMs: 2 ** 31 },
        "Expected `maxPollIntervalMs` to be an integer from 1 to 2147483647, got `2147483648` (number).",
      ],
      [
        { pollIntervalMs: 5_000, maxPollIntervalMs: 1_000 },
        "Expected `maxPollIntervalMs` to be at least `pollIntervalMs` (5000), got `1000` (number).",
      ],
      [{ jitter: 2 }, "Expected `jitter` to be a number from 0 to 1, got `2` (number)."],
      [{ limit: 0 }, "Expected `limit` to be an integer >= 1, got `0` (number)."],
    ];
    for (const [extra, message] of cases) {
      expect(make(extra)).toThrow(LockstepDefinitionError);
      expect(make(extra)).toThrow(message);
    }
    expect(cases).toHaveLength(5);
  });

  it("records each pass as an OpenTelemetry span with its counts", async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const spans = otelRecoveryListener(provider.getTracer("lockstep-test"));
    const w = workerWorld();
    const { clock } = w;
    await w.crash("traced");
    w.log.failClaims = 1;
    const worker = w.start({
      onEvent: (event) => {
        w.onEvent(event);
        spans(event);
      },
    });
    await clock.run(w.next(isPass));
    await clock.run(worker.stop());
    const [failed, pass] = exporter.getFinishedSpans();
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual([
      "lockstep recovery pass",
      "lockstep recovery pass",
    ]);
    expect(failed?.status.code).toBe(2);
    expect(failed?.attributes["lockstep.pass.number"]).toBe(1);
    expect(pass?.status.code).toBe(1);
    expect(pass?.attributes).toMatchObject({
      "lockstep.worker.owner": "worker-1",
      "lockstep.pass.number": 2,
      "lockstep.pass.claimed": 1,
      "lockstep.pass.completed": 1,
    });
  });
});
