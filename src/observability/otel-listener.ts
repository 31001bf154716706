import type { EventListener, SagaEvent } from "../core/events.js";
import { explain } from "../core/explain.js";
import type { StepStrategy } from "../core/report.js";
import type { Saga } from "../core/saga.js";
import type { SagaLog } from "../log/saga-log.js";
import type {
  OtelAttributes,
  OtelContext,
  OtelContextApi,
  OtelSpan,
  OtelTracer,
} from "./otel-types.js";
import { contextWithParent } from "./span-parent.js";

/** The attribute names lockstep sets on its spans and span events. */
export const SpanAttribute = {
  /** The saga id (a ULID), on every span. */
  SagaId: "lockstep.saga.id",
  /** The saga's name, on every span. */
  SagaName: "lockstep.saga.name",
  /** Whether the run is a recovery, on run spans. */
  Recovery: "lockstep.recovery",
  /** The step's name, on step and compensation spans. */
  Step: "lockstep.step",
  /** The attempt, from 1, on step and compensation spans. */
  Attempt: "lockstep.attempt",
  /**
   * How the step was written (`saga` or `co_committed`), on step spans, when the listener was given
   * the saga definitions.
   */
  Strategy: "lockstep.strategy",
  /**
   * How the span's work ended: a saga status for a run; `committed`, `not_committed` or `unknown`
   * for a step; the compensation's result for a compensation; `interrupted` when its run ended first.
   */
  Outcome: "lockstep.outcome",
  /** The error kind of a step that did not commit or whose outcome is unknown. */
  ErrorKind: "lockstep.error_kind",
  /** How a commit was learned: `execute` or `probe`. */
  Via: "lockstep.via",
  /** Why a saga needs attention. */
  AttentionReason: "lockstep.attention_reason",
} as const;

/** Options of {@link otelListener}. */
export interface OtelListenerOptions {
  /**
   * The sagas the runner runs. With them, step spans carry `lockstep.strategy`, resolved exactly as
   * `explain` resolves it.
   * @default none: step spans carry no strategy
   */
  // biome-ignore lint/suspicious/noExplicitAny: sagas of every input and output type.
  readonly sagas?: readonly Saga<any, any>[];
  /**
   * The runner's log, which decides which steps are co-committed.
   * @default none: every step is planned as a `saga` step
   */
  readonly log?:
    | SagaLog
    | {
        /** The log's co-commit capability, if it has one. */
        readonly coCommit?: {
          /** The id of the store whose transactions can carry the log's records. */
          readonly storeId: string;
        };
      };
  /**
   * The `@opentelemetry/api` module, used to attach child spans to their run span while keeping
   * the active context's other values. Without it, lockstep attaches them under the API's
   * well-known span key, which every 1.x version of the API reads.
   * @default none
   * @example `otelListener(tracer, { api: await import("@opentelemetry/api") })`
   */
  readonly api?: OtelContextApi;
}

/** An {@link EventListener} that turns saga events into OpenTelemetry spans. */
export interface OtelListener extends EventListener {
  /**
   * Ends every span still open with outcome `interrupted` and forgets it; returns how many runs it
   * ended. A run whose saga stops without a status change (parked as `running` for recovery to
   * finish, a compensation left for later) emits no final event, so its span stays open until the
   * saga starts again or this is called: call it before shutting the tracer provider down.
   */
  flush(): number;
  /** How many runs have a span open. */
  readonly openRuns: number;
}

const STATUS_OK = 1;
const STATUS_ERROR = 2;
const RUN_ENDING = new Set([
  "completed",
  "compensated",
  "needs_attention",
  "quarantined",
  "in_doubt",
]);

interface StepSpan {
  readonly span: OtelSpan;
  /** Whether the step's outcome is unknown and a probe may still settle it. */
  awaitingProbe: boolean;
}

interface RunSpans {
  readonly span: OtelSpan;
  readonly context: OtelContext;
  readonly base: OtelAttributes;
  readonly steps: Map<string, StepSpan>;
  readonly compensations: Map<string, OtelSpan>;
}

/**
 * Makes an event listener that records saga runs as OpenTelemetry spans, so the core needs no
 * tracing code of its own. Pass it as the runner's `onEvent`.
 *
 * - one span per run, `lockstep run <saga>`, from `saga.started` to the status that ends the run
 *   (`completed`, `compensated`, `needs_attention`, `quarantined`, `in_doubt`) or `saga.lease_lost`;
 *   a recovery gets `lockstep recover <saga>` with `lockstep.recovery` set;
 * - under it, one span per step attempt, `lockstep step <step>`, from `step.started` to
 *   `step.committed` or `step.not_committed`; an `unknown` outcome stays open for the probe, which
 *   is recorded as a `probe` event, and ends the span when it cannot tell;
 * - one span per compensation attempt, `lockstep compensate <step>`;
 * - retries, probes outside an attempt, null compensations and status changes are events on the
 *   run span.
 *
 * Spans are keyed by saga id, so concurrent sagas never mix. Every span carries
 * `lockstep.saga.id` and `lockstep.saga.name`; see {@link SpanAttribute} for the rest.
 * `@opentelemetry/api` is an optional peer: lockstep never imports it.
 *
 * @example
 * ```ts
 * import { trace } from "@opentelemetry/api";
 * const onEvent = otelListener(trace.getTracer("billing"), { sagas: [transfer], log });
 * const runner = createRunner({ log, onEvent });
 * ```
 */
export function otelListener(tracer: OtelTracer, options: OtelListenerOptions = {}): OtelListener {
  const runs = new Map<string, RunSpans>();
  const strategies = strategiesOf(options);

  const endStep = (run: RunSpans, step: string, outcome: string, at: number, error?: string) => {
    const open = run.steps.get(step);
    if (open === undefined) return false;
    run.steps.delete(step);
    finish(open.span, outcome, at, error);
    return true;
  };

  /**
   * Ends a step's span with its logged outcome, the attribute that says how it ended set on it. An
   * outcome with no attempt span open (a probe's verdict learned outside an attempt) becomes an
   * event on the run span instead, so it is still seen.
   */
  const settleStep = (
    run: RunSpans,
    step: string,
    outcome: "step.committed" | "step.not_committed",
    attribute: string,
    value: string,
    at: number,
    error?: string,
  ) => {
    const open = run.steps.get(step);
    if (open === undefined) {
      run.span.addEvent(outcome, { [SpanAttribute.Step]: step, [attribute]: value }, at);
      return;
    }
    open.span.setAttribute(attribute, value);
    endStep(run, step, outcome.slice("step.".length), at, error);
  };

  const endRun = (sagaId: string, outcome: string, at: number, error?: string) => {
    const run = runs.get(sagaId);
    if (run === undefined) return false;
    runs.delete(sagaId);
    for (const [step, open] of run.steps) {
      finish(open.span, open.awaitingProbe ? "unknown" : "interrupted", at, "the run ended first");
      run.steps.delete(step);
    }
    for (const span of run.compensations.values()) {
      finish(span, "interrupted", at, "the run ended first");
    }
    run.compensations.clear();
    finish(run.span, outcome, at, error);
    return true;
  };

  const child = (run: RunSpans, name: string, attributes: OtelAttributes, at: number) =>
    tracer.startSpan(
      name,
      { attributes: { ...run.base, ...attributes }, startTime: at },
      run.context,
    );

  const handle = (event: SagaEvent): void => {
    if (event.type === "saga.started") {
      endRun(event.sagaId, "interrupted", event.at, "the saga started again");
      const base = {
        [SpanAttribute.SagaId]: event.sagaId,
        [SpanAttribute.SagaName]: event.saga,
      };
      const span = tracer.startSpan(
        `lockstep ${event.recovery ? "recover" : "run"} ${event.saga}`,
        { attributes: { ...base, [SpanAttribute.Recovery]: event.recovery }, startTime: event.at },
      );
      runs.set(event.sagaId, {
        span,
        context: contextWithParent(span, options.api),
        base,
        steps: new Map(),
        compensations: new Map(),
      });
      return;
    }
    const run = runs.get(event.sagaId);
    if (run === undefined) return;
    switch (event.type) {
      case "step.started": {
        endStep(run, event.step, "unknown", event.at, "a new attempt started");
        const strategy = strategies.get(event.saga)?.get(event.step);
        const span = child(
          run,
          `lockstep step ${event.step}`,
          {
            [SpanAttribute.Step]: event.step,
            [SpanAttribute.Attempt]: event.attempt,
            ...(strategy === undefined ? {} : { [SpanAttribute.Strategy]: strategy }),
          },
          event.at,
        );
        run.steps.set(event.step, { span, awaitingProbe: false });
        return;
      }
      case "step.committed":
        settleStep(run, event.step, event.type, SpanAttribute.Via, event.via, event.at);
        return;
      case "step.not_committed":
        settleStep(
          run,
          event.step,
          event.type,
          SpanAttribute.ErrorKind,
          event.kind,
          event.at,
          `not committed (${event.kind})`,
        );
        return;
      case "step.unknown": {
        const open = run.steps.get(event.step);
        if (open === undefined) return;
        open.span.setAttribute(SpanAttribute.ErrorKind, event.kind);
        open.span.setAttribute(SpanAttribute.Outcome, "unknown");
        open.awaitingProbe = true;
        return;
      }
      case "step.probed": {
        const open = run.steps.get(event.step);
        const attributes = { [SpanAttribute.Step]: event.step, result: event.result };
        if (open === undefined) {
          run.span.addEvent("probe", attributes, event.at);
          return;
        }
        open.span.addEvent("probe", attributes, event.at);
        if (event.result === "unknown") {
          endStep(run, event.step, "unknown", event.at, "the probe could not tell");
        }
        return;
      }
      case "step.retrying": {
        // A retriable step without a probe is retried straight after an unknown outcome.
        endStep(run, event.step, "unknown", event.at, "retried without a probe");
        run.span.addEvent(
          "step.retrying",
          {
            [SpanAttribute.Step]: event.step,
            [SpanAttribute.Attempt]: event.attempt,
            delayMs: event.delayMs,
          },
          event.at,
        );
        return;
      }
      case "compensation.started": {
        run.compensations.get(event.step)?.end(event.at);
        const span = child(
          run,
          `lockstep compensate ${event.step}`,
          { [SpanAttribute.Step]: event.step, [SpanAttribute.Attempt]: event.attempt },
          event.at,
        );
        run.compensations.set(event.step, span);
        return;
      }
      case "compensation.finished": {
        const span = run.compensations.get(event.step);
        if (span === undefined) {
          run.span.addEvent(
            `compensation.${event.result}`,
            { [SpanAttribute.Step]: event.step },
            event.at,
          );
          return;
        }
        run.compensations.delete(event.step);
        const failed = event.result === "failed" || event.result === "guard_failed";
        finish(span, event.result, event.at, failed ? `compensation ${event.result}` : undefined);
        return;
      }
      case "saga.status": {
        if (event.reason !== undefined) {
          run.span.setAttribute(SpanAttribute.AttentionReason, event.reason);
        }
        if (RUN_ENDING.has(event.status)) {
          endRun(
            event.sagaId,
            event.status,
            event.at,
            event.status === "completed" ? undefined : `the saga ended ${event.status}`,
          );
        } else {
          run.span.addEvent("saga.status", { status: event.status }, event.at);
        }
        return;
      }
      case "saga.lease_lost":
        endRun(event.sagaId, "lease_lost", event.at, "another runner took the saga over");
        return;
    }
  };

  const listener = ((event: SagaEvent) => handle(event)) as OtelListener;
  Object.defineProperties(listener, {
    flush: {
      value: (): number => {
        const now = Date.now();
        let ended = 0;
        for (const sagaId of [...runs.keys()]) {
          if (endRun(sagaId, "interrupted", now, "flushed before the run ended")) ended++;
        }
        return ended;
      },
    },
    openRuns: { get: () => runs.size },
  });
  return listener;
}

/** Sets the outcome and status of a span and ends it. */
function finish(span: OtelSpan, outcome: string, at: number, error?: string): void {
  span.setAttribute(SpanAttribute.Outcome, outcome);
  span.setStatus(
    error === undefined ? { code: STATUS_OK } : { code: STATUS_ERROR, message: error },
  );
  span.end(at);
}

function strategiesOf(options: OtelListenerOptions): Map<string, Map<string, StepStrategy>> {
  const byName = new Map<string, Map<string, StepStrategy>>();
  for (const saga of options.sagas ?? []) {
    const plan = explain(saga, options.log === undefined ? {} : { log: options.log });
    byName.set(saga.name, new Map(plan.steps.map((step) => [step.name, step.strategy])));
  }
  return byName;
}
