import type { OtelAttributes, OtelTracer } from "../observability/otel-types.js";
import type { RecoveryWorkerEvent, RecoveryWorkerListener } from "./recovery-worker-events.js";

/** The attribute names {@link otelRecoveryListener} sets on its pass spans. */
export const RecoverySpanAttribute = {
  /** The worker's `owner`. */
  Owner: "lockstep.worker.owner",
  /** The pass's number, from 1. */
  Pass: "lockstep.pass.number",
  /** How many sagas the pass claimed. */
  Claimed: "lockstep.pass.claimed",
  /** The wait before the next pass, in milliseconds. */
  NextPollMs: "lockstep.pass.next_poll_ms",
  /**
   * The prefix of the outcome counts: `lockstep.pass.completed`, `lockstep.pass.in_doubt`, … one
   * per outcome, zero included.
   */
  OutcomePrefix: "lockstep.pass.",
  /** The error code of a failed pass. */
  ErrorCode: "lockstep.pass.error_code",
} as const;

const STATUS_OK = 1;
const STATUS_ERROR = 2;

/**
 * Makes a recovery worker listener that records each pass as an OpenTelemetry span,
 * `lockstep recovery pass`, from the pass's start to its end, with the counts of what it claimed
 * (see {@link RecoverySpanAttribute}); a failed pass ends in status ERROR with its message. The
 * sagas a pass drives get their own spans from `otelListener`, given to the runner.
 * `@opentelemetry/api` is an optional peer: lockstep never imports it.
 *
 * @example
 * ```ts
 * import { trace } from "@opentelemetry/api";
 * const worker = createRecoveryWorker({
 *   runner,
 *   sagas: [transfer],
 *   onEvent: otelRecoveryListener(trace.getTracer("billing")),
 * });
 * ```
 */
export function otelRecoveryListener(tracer: OtelTracer): RecoveryWorkerListener {
  return (event: RecoveryWorkerEvent) => {
    if (event.type === "recovery.stopped") return;
    const attributes: Record<string, string | number> = {
      [RecoverySpanAttribute.Owner]: event.owner,
      [RecoverySpanAttribute.Pass]: event.pass,
      [RecoverySpanAttribute.NextPollMs]: event.nextPollMs,
    };
    if (event.type === "recovery.pass") {
      attributes[RecoverySpanAttribute.Claimed] = event.claimed;
      for (const [outcome, count] of Object.entries(event.counts)) {
        attributes[`${RecoverySpanAttribute.OutcomePrefix}${outcome}`] = count;
      }
    } else {
      attributes[RecoverySpanAttribute.ErrorCode] = event.error.code;
    }
    const span = tracer.startSpan("lockstep recovery pass", {
      attributes: attributes as OtelAttributes,
      startTime: event.startedAt,
    });
    span.setStatus(
      event.type === "recovery.pass"
        ? { code: STATUS_OK }
        : { code: STATUS_ERROR, message: event.error.message },
    );
    span.end(event.at);
  };
}
