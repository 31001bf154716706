import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  createRecoverer,
  createRecoveryWorker,
  createRunner,
  defineSaga,
  LockstepDefinitionError,
  otelRecoveryListener,
  type RecoveryWorkerEvent,
  type RecoveryWorkerOptions,
} from "../../src/index.js";
import { workerWorld } from "./support/worker-world.js";

type Pass = Extract<RecoveryWorkerEvent, { type: "recovery.pass" | "recovery.pass_failed" }>;
const isPass = (e: RecoveryWorkerEvent): e is Pass =>
  e.type === "recovery.pass" || e.type === "recovery.pass_failed";

describe("a recovery worker's options", () => {
  it("refuses a bad concurrency, a relay that is not one, and a reportStatus of null, naming the value", () => {
    const w = workerWorld();
    const cases: [Partial<RecoveryWorkerOptions>, string][] = [
      [{ concurrency: 0 }, "Expected `concurrency` to be an integer >= 1, got `0` (number)."],
      [
        { relay: {} as never },
        "Expected `relay` to be a relay made by createRelay, got `[object Object]` (object).",
      ],
      [
        { relay: null as never },
        "Expected `relay` to be a relay made by createRelay, got `null` (null).",
      ],
      [
        { reportStatus: null as never },
        "Expected `reportStatus` to be a boolean or { host, pid }, got `null` (null).",
      ],
      [
        { reportStatus: { host: "h".repeat(256) } },
        "Expected `reportStatus.host` to be a string of at most 255 characters",
      ],
    ];
    for (const [extra, message] of cases) {
      const make = () => createRecoveryWorker({ runner: w.runner, sagas: [w.saga], ...extra });
      expect(make).toThrow(LockstepDefinitionError);
      expect(make).toThrow(message);
    }
    expect(cases).toHaveLength(5);
  });

  it("takes a maxPollIntervalMs equal to pollIntervalMs: every wait is that long", async () => {
    const w = workerWorld();
    const worker = w.start({ pollIntervalMs: 500, maxPollIntervalMs: 500 });
    await w.clock.run(w.next((e) => isPass(e) && e.pass === 3));
    await w.clock.run(worker.stop());
    expect(w.passes().map((p) => (p as Pass).nextPollMs)).toEqual([500, 500, 500]);
  });

  it("reports with reportStatus: true, a host of 255 characters, and the process's id unless given one", async () => {
    const w = workerWorld();
    const host = "h".repeat(255);
    const worker = w.start({ reportStatus: { host } });
    await w.clock.run(w.next(isPass));
    await w.clock.run(worker.stop());
    const [status] = await w.log.operations.workers();
    expect([status?.host, status?.pid]).toEqual([host, process.pid]);

    const other = workerWorld();
    const second = other.start({ reportStatus: true });
    await other.clock.run(other.next(isPass));
    await other.clock.run(second.stop());
    expect((await other.log.operations.workers()).map((s) => s.workerId)).toEqual(["worker-1"]);
  });
});

describe("a recovery worker's status reports", () => {
  it("keeps the first 2,000 characters of a long error", async () => {
    const w = workerWorld();
    vi.spyOn(w.log, "claimRecoverable").mockRejectedValueOnce(new Error("x".repeat(3_000)));
    const worker = w.start();
    await w.clock.run(w.next((e) => e.type === "recovery.pass_failed"));
    const [status] = await w.log.operations.workers();
    await w.clock.run(worker.stop());
    const message = status?.lastError?.message ?? "";
    expect(message).toHaveLength(2_000);
    expect(message).toMatch(/^A recovery pass could not claim sagas from the log: x+$/);
  });

  it("carries on when a report fails and no logger is there to tell", async () => {
    const w = workerWorld();
    const report = vi
      .spyOn(w.log.operations, "reportWorker")
      .mockRejectedValue(new Error("the status table is gone"));
    const worker = w.start({ pollIntervalMs: 100 });
    await w.clock.run(w.next((e) => isPass(e) && e.pass === 2));
    const summary = await w.clock.run(worker.stop());
    expect(summary.reason).toBe("stopped");
    expect(report).toHaveBeenCalledTimes(summary.passes + 1);
  });

  it("reports a process id only where the runtime gives a whole, non-negative one", async () => {
    const pidWith = async (process: unknown) => {
      const w = workerWorld();
      const real = Object.getOwnPropertyDescriptor(globalThis, "process") as PropertyDescriptor;
      Object.defineProperty(globalThis, "process", { value: process, configurable: true });
      let worker: ReturnType<typeof w.start>;
      try {
        // The worker reads the process's id as it starts.
        worker = w.start({ reportStatus: true });
      } finally {
        Object.defineProperty(globalThis, "process", real);
      }
      await w.clock.run(w.next(isPass));
      await w.clock.run(worker.stop());
      return (await w.log.operations.workers())[0]?.pid;
    };
    expect(await pidWith({ pid: 0 })).toBe(0);
    expect(await pidWith({ pid: 4242 })).toBe(4242);
    expect(await pidWith(undefined)).toBeNull();
    expect(await pidWith({})).toBeNull();
    expect(await pidWith({ pid: "4242" })).toBeNull();
    expect(await pidWith({ pid: 42.5 })).toBeNull();
    expect(await pidWith({ pid: -1 })).toBeNull();
  });
});

describe("otelRecoveryListener", () => {
  it("records the error code on a failed pass's span, and no span for the worker stopping", async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const spans = otelRecoveryListener(provider.getTracer("lockstep-test"));
    const w = workerWorld();
    w.log.failClaims = 1;
    const worker = w.start({
      onEvent: (event) => {
        w.onEvent(event);
        spans(event);
      },
    });
    await w.clock.run(w.next((e) => e.type === "recovery.pass"));
    await w.clock.run(worker.stop());
    expect(w.events.at(-1)?.type).toBe("recovery.stopped");
    const finished = exporter.getFinishedSpans();
    expect(finished).toHaveLength(2);
    expect(finished[0]?.attributes["lockstep.pass.error_code"]).toBe("log_failed");
    expect(finished[1]?.attributes["lockstep.pass.error_code"]).toBeUndefined();
  });
});

describe("otelRecoveryListener, given a worker's stopped event", () => {
  it("starts no span and does not throw", () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const spans = otelRecoveryListener(provider.getTracer("lockstep-test"));
    const stopped: RecoveryWorkerEvent = {
      type: "recovery.stopped",
      owner: "worker-1",
      at: 1_700_000_000_000,
      reason: "stopped",
      passes: 3,
      failedPasses: 0,
      recovered: {
        completed: 0,
        compensated: 0,
        needs_attention: 0,
        in_doubt: 0,
        incomplete: 0,
        compensating: 0,
        quarantined: 0,
        lease_lost: 0,
        failed: 0,
      },
      released: 0,
    };
    expect(() => spans(stopped)).not.toThrow();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});

describe("the sagas a recoverer is given", () => {
  const store = createMemoryStore({ tier: "plain" });
  const out = z.object({ ok: z.boolean() });
  const step = {
    store,
    kind: "retriable",
    output: out,
    execute: async () => ({ ok: true }),
  } as const;
  const saga = (second: string) =>
    defineSaga("order", { input: z.object({}), version: 3 })
      .step("hold", step)
      .step(second, step)
      .build();

  it("names both conflicting definitions by their first place in the list, with all their steps", () => {
    const first = saga("charge");
    const second = saga("refund");
    expect(() =>
      createRecoverer({ runner: createRunner(), sagas: [first, first, second] }),
    ).toThrow(
      'The recoverer was given two definitions of saga "order" version 3, `sagas[0]` (steps hold, charge) and `sagas[2]` (steps hold, refund);',
    );
  });
});
