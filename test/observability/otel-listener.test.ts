import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as otelApi from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { openSqlite, sqliteSagaLog, sqliteStore } from "../../src/adapters/sqlite/index.js";
import {
  committed,
  createRecoverer,
  createRunner,
  defineSaga,
  MemorySagaLog,
  newSagaId,
  type OtelContextApi,
  type OtelTracer,
  otelListener,
  SpanAttribute,
} from "../../src/index.js";
import { intent, leaveCrashed } from "./support/crash.js";
import { orderWorld } from "./support/order-world.js";

const STATUS_OK = otelApi.SpanStatusCode.OK;
const STATUS_ERROR = otelApi.SpanStatusCode.ERROR;

function tracing() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  // The structural type lockstep declares must accept a real tracer as it is.
  const tracer: OtelTracer = provider.getTracer("lockstep-test");
  const spans = () => exporter.getFinishedSpans();
  return { tracer, spans, provider };
}

const attr = (span: ReadableSpan | undefined, key: string) => span?.attributes[key];
const parentOf = (span: ReadableSpan | undefined) => span?.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan | undefined) => span?.spanContext().spanId;
const named = (spans: readonly ReadableSpan[], name: string) =>
  spans.filter((s) => s.name === name);

describe("otelListener", () => {
  it("records a completed run as one run span with a child span per step attempt", async () => {
    const { tracer, spans } = tracing();
    const world = orderWorld();
    const onEvent = otelListener(tracer, { sagas: [world.saga] });
    const result = await createRunner({ onEvent }).run(world.saga, { id: "o-1" });
    const sagaId = result._unsafeUnwrap().sagaId;
    const all = spans();
    expect(all.map((s) => s.name).sort()).toEqual([
      "lockstep run order",
      "lockstep step charge",
      "lockstep step hold",
      "lockstep step notify",
    ]);
    const run = named(all, "lockstep run order")[0];
    expect(run?.attributes).toMatchObject({
      [SpanAttribute.SagaId]: sagaId,
      [SpanAttribute.SagaName]: "order",
      [SpanAttribute.Recovery]: false,
      [SpanAttribute.Outcome]: "completed",
    });
    expect(run?.status.code).toBe(STATUS_OK);
    for (const step of ["hold", "charge", "notify"]) {
      const span = named(all, `lockstep step ${step}`)[0];
      expect(parentOf(span), `step ${step} must be a child of its run`).toBe(idOf(run));
      expect(span?.attributes).toMatchObject({
        [SpanAttribute.SagaId]: sagaId,
        [SpanAttribute.SagaName]: "order",
        [SpanAttribute.Step]: step,
        [SpanAttribute.Attempt]: 1,
        [SpanAttribute.Outcome]: "committed",
        [SpanAttribute.Strategy]: "saga",
        [SpanAttribute.Via]: "execute",
      });
    }
    expect(onEvent.openRuns).toBe(0);
  });

  it("records a refused pivot and the compensation it causes, with error statuses", async () => {
    const { tracer, spans } = tracing();
    const world = orderWorld();
    world.switches.chargeRefused = true;
    const result = await createRunner({ onEvent: otelListener(tracer) }).run(world.saga, {
      id: "o-2",
    });
    expect(result.isErr()).toBe(true);
    const all = spans();
    expect(all).toHaveLength(4);
    const run = named(all, "lockstep run order")[0];
    expect(attr(run, SpanAttribute.Outcome)).toBe("compensated");
    expect(run?.status.code).toBe(STATUS_ERROR);
    const charge = named(all, "lockstep step charge")[0];
    expect(attr(charge, SpanAttribute.Outcome)).toBe("not_committed");
    expect(attr(charge, SpanAttribute.ErrorKind)).toBe("not_committed");
    expect(charge?.status.code).toBe(STATUS_ERROR);
    const compensation = named(all, "lockstep compensate hold")[0];
    expect(parentOf(compensation)).toBe(idOf(run));
    expect(compensation?.attributes).toMatchObject({
      [SpanAttribute.Step]: "hold",
      [SpanAttribute.Attempt]: 1,
      [SpanAttribute.Outcome]: "compensated",
    });
    expect(attr(named(all, "lockstep step hold")[0], SpanAttribute.Outcome)).toBe("committed");
    // Without the sagas the listener cannot know the strategy, so it does not guess one.
    expect(attr(charge, SpanAttribute.Strategy)).toBeUndefined();
  });

  it("keeps an unknown attempt open for its probe, recorded as an event, and ends it as the probe decides", async () => {
    const { tracer, spans } = tracing();
    const world = orderWorld();
    world.switches.chargeLost = true;
    const result = await createRunner({ onEvent: otelListener(tracer) }).run(world.saga, {
      id: "o-3",
    });
    expect(result.isOk()).toBe(true);
    const charge = named(spans(), "lockstep step charge")[0];
    expect(charge?.attributes).toMatchObject({
      [SpanAttribute.Outcome]: "committed",
      [SpanAttribute.Via]: "probe",
      [SpanAttribute.ErrorKind]: "unknown",
    });
    expect(charge?.events.map((e) => [e.name, e.attributes?.result])).toEqual([
      ["probe", "committed"],
    ]);
  });

  it("ends an attempt whose probe cannot tell as unknown, and the run as in_doubt", async () => {
    const { tracer, spans } = tracing();
    const world = orderWorld();
    world.switches.chargeLost = true;
    world.switches.chargeProbeBlind = true;
    const result = await createRunner({ onEvent: otelListener(tracer) }).run(world.saga, {
      id: "o-4",
    });
    expect(result._unsafeUnwrapErr().code).toBe("in_doubt");
    const all = spans();
    const charge = named(all, "lockstep step charge")[0];
    expect(attr(charge, SpanAttribute.Outcome)).toBe("unknown");
    expect(charge?.status.code).toBe(STATUS_ERROR);
    expect(attr(named(all, "lockstep run order")[0], SpanAttribute.Outcome)).toBe("in_doubt");
  });

  it("records a recovery as its own run span, with the probe of the unknown step as an event", async () => {
    const { tracer, spans } = tracing();
    const world = orderWorld();
    const log = new MemorySagaLog();
    const sagaId = newSagaId();
    await leaveCrashed(log, world.saga, sagaId, { id: "o-5" }, [intent("hold")]);
    const runner = createRunner({ log, onEvent: otelListener(tracer, { sagas: [world.saga] }) });
    const report = await createRecoverer({ runner, sagas: [world.saga] }).recover();
    expect(report._unsafeUnwrap().counts.compensated).toBe(1);
    const all = spans();
    expect(all).toHaveLength(1);
    const recovery = all[0];
    expect(recovery?.name).toBe("lockstep recover order");
    expect(recovery?.attributes).toMatchObject({
      [SpanAttribute.SagaId]: sagaId,
      [SpanAttribute.Recovery]: true,
      [SpanAttribute.Outcome]: "compensated",
    });
    expect(recovery?.events.map((e) => e.name)).toEqual([
      "saga.status",
      "probe",
      "step.not_committed",
      "compensation.skipped",
    ]);
  });

  it("keys spans by saga id: interleaved concurrent sagas never share a parent", async () => {
    const { tracer, spans } = tracing();
    const world = orderWorld();
    let arrived = 0;
    let release: () => void = () => {};
    const bothHolding = new Promise<void>((resolve) => {
      release = resolve;
    });
    world.switches.beforeHold = async () => {
      arrived++;
      if (arrived === 2) release();
      await bothHolding;
    };
    const runner = createRunner({ onEvent: otelListener(tracer) });
    const results = await Promise.all([
      runner.run(world.saga, { id: "a" }),
      runner.run(world.saga, { id: "b" }),
    ]);
    expect(arrived).toBe(2);
    const all = spans();
    const runs = named(all, "lockstep run order");
    expect(runs).toHaveLength(2);
    const steps = all.filter((s) => s.name.startsWith("lockstep step "));
    expect(steps).toHaveLength(6);
    for (const step of steps) {
      const parent = runs.find((r) => idOf(r) === parentOf(step));
      expect(parent, `${step.name} has no run parent`).toBeDefined();
      expect(attr(step, SpanAttribute.SagaId)).toBe(attr(parent, SpanAttribute.SagaId));
    }
    const ids = results.map((r) => r._unsafeUnwrap().sagaId).sort();
    expect(runs.map((r) => attr(r, SpanAttribute.SagaId)).sort()).toEqual(ids);
  });

  it("leaves a run parked without a status change open until flush ends it as interrupted", async () => {
    const { tracer, spans } = tracing();
    const world = orderWorld();
    world.switches.notifyRefused = true;
    const onEvent = otelListener(tracer);
    const result = await createRunner({ onEvent }).run(world.saga, { id: "o-6" });
    expect(result._unsafeUnwrapErr().code).toBe("incomplete");
    expect(onEvent.openRuns).toBe(1);
    expect(named(spans(), "lockstep run order")).toHaveLength(0);
    expect(onEvent.flush()).toBe(1);
    expect(onEvent.openRuns).toBe(0);
    const run = named(spans(), "lockstep run order")[0];
    expect(attr(run, SpanAttribute.Outcome)).toBe("interrupted");
    expect(attr(named(spans(), "lockstep step notify")[0], SpanAttribute.Outcome)).toBe(
      "not_committed",
    );
  });

  it("attaches children through the real API when it is given", async () => {
    const { tracer, spans } = tracing();
    const world = orderWorld();
    const api: OtelContextApi = otelApi;
    await createRunner({ onEvent: otelListener(tracer, { api }) }).run(world.saga, { id: "o-7" });
    const all = spans();
    const run = named(all, "lockstep run order")[0];
    const children = all.filter((s) => parentOf(s) === idOf(run));
    expect(children).toHaveLength(3);
  });

  describe("with a SQLite log", () => {
    let dir: string | undefined;
    afterEach(() => {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    });

    it("labels steps on the log's database co_committed and the others saga", async () => {
      dir = mkdtempSync(join(tmpdir(), "lockstep-otel-"));
      const db = openSqlite(join(dir, "main.db"));
      const other = openSqlite(join(dir, "other.db"));
      try {
        const log = sqliteSagaLog(db);
        const noop = (store: ReturnType<typeof sqliteStore>, kind: "compensatable" | "pivot") => ({
          store,
          kind,
          output: z.object({}),
          execute: () => ({}),
          probe: () => committed({}),
        });
        const saga = defineSaga("mixed", { input: z.object({}) })
          .step("local", {
            ...noop(sqliteStore(db), "compensatable"),
            compensate: () => ({ status: "compensated" as const }),
          })
          .step("remote", noop(sqliteStore(other), "pivot"))
          .build();
        const { tracer, spans } = tracing();
        const runner = createRunner({ log, onEvent: otelListener(tracer, { sagas: [saga], log }) });
        (await runner.run(saga, {}))._unsafeUnwrap();
        const strategies = Object.fromEntries(
          spans()
            .filter((s) => s.name.startsWith("lockstep step "))
            .map((s) => [attr(s, SpanAttribute.Step), attr(s, SpanAttribute.Strategy)]),
        );
        expect(strategies).toEqual({ local: "co_committed", remote: "saga" });
      } finally {
        db.close();
        other.close();
      }
    });
  });
});
