import { EntryType, OPERATOR_STEP } from "../model/records.js";
import type { SagaTimeline, TimelineEntry } from "./saga-timeline.js";

/** How a span ended: the outcome of an attempt, or of a compensation. */
export type SpanEnd =
  | "committed"
  | "not_committed"
  | "unknown"
  | "compensated"
  | "compensation_failed"
  | "guard_failed"
  | "open";

/** One attempt of a step, or one compensation of it: from its intent to its outcome. */
export interface TimelineSpan {
  /** `attempt` for an execute (intent → outcome), `compensation` for an undo. */
  readonly kind: "attempt" | "compensation";
  /** The attempt number. */
  readonly attempt: number;
  /** When it started (its intent), or when its outcome was written when no intent was logged. */
  readonly from: number;
  /** When its outcome was written; `from` while it is still open. */
  readonly to: number;
  /** How it ended; `open` when the log holds no outcome for it. */
  readonly end: SpanEnd;
  /** How a commit was learned: `execute`, `probe` or `co_commit`. */
  readonly via: string | undefined;
  /** The fencing token its outcome (or its intent, while open) was written under. */
  readonly token: number;
  /** The entries it is made of, in order. */
  readonly entries: readonly TimelineEntry[];
}

/** One step's row of the drawing. */
export interface TimelineLane {
  /** The step's name, or {@link OPERATOR_STEP} for the lane of operator notes. */
  readonly step: string;
  /** Its kind (`compensatable`, `pivot`, `retriable`), or `operator`. */
  readonly kind: string;
  /** Its attempts and compensations, in the order they started. */
  readonly spans: readonly TimelineSpan[];
  /** Entries that stand alone: skipped compensations and operator notes. */
  readonly marks: readonly TimelineEntry[];
}

/** Where another runner took the saga over: the first entry written under a higher token. */
export interface TimelineTakeover {
  readonly at: number;
  readonly seq: number;
  readonly token: number;
}

/** A saga's history laid out for drawing: one lane per step, the takeovers, and the time range. */
export interface TimelineLayout {
  readonly lanes: readonly TimelineLane[];
  readonly takeovers: readonly TimelineTakeover[];
  /** The earliest time shown: the saga's creation (or an earlier entry). */
  readonly start: number;
  /** The latest time shown: the last entry (at least `start`). */
  readonly end: number;
}

const ATTEMPT_ENDS: ReadonlySet<string> = new Set([
  EntryType.Committed,
  EntryType.NotCommitted,
  EntryType.Unknown,
]);
const COMPENSATION_ENDS: ReadonlySet<string> = new Set([
  EntryType.Compensated,
  EntryType.CompensationFailed,
  EntryType.GuardFailed,
]);

/**
 * Lays a timeline out for drawing: each step's entries grouped into spans (an attempt from its
 * intent to its outcome; a compensation from its intent to its result), standalone marks, and the
 * entries where the fencing token rose. The SVG and the text drawing both draw this, so they always
 * show the same history.
 */
export function timelineLayout(timeline: SagaTimeline): TimelineLayout {
  const lanes = new Map<string, { kind: string; spans: TimelineSpan[]; marks: TimelineEntry[] }>();
  for (const step of timeline.steps)
    lanes.set(step.name, { kind: step.kind, spans: [], marks: [] });
  const open = new Map<string, TimelineSpan & { entries: TimelineEntry[] }>();
  const takeovers: TimelineTakeover[] = [];
  let start = timeline.createdAt;
  let end = timeline.createdAt;
  for (const entry of timeline.entries) {
    start = Math.min(start, entry.at);
    end = Math.max(end, entry.at);
    if (entry.takeover) takeovers.push({ at: entry.at, seq: entry.seq, token: entry.token });
    let lane = lanes.get(entry.step);
    if (lane === undefined) {
      // Operator notes get a lane of their own, after the steps; an unknown step one too.
      lane = { kind: entry.step === OPERATOR_STEP ? "operator" : "unknown", spans: [], marks: [] };
      lanes.set(entry.step, lane);
    }
    const kind =
      entry.type === EntryType.Intent || ATTEMPT_ENDS.has(entry.type)
        ? "attempt"
        : entry.type === EntryType.CompensationIntent || COMPENSATION_ENDS.has(entry.type)
          ? "compensation"
          : undefined;
    if (kind === undefined) {
      lane.marks.push(entry);
      continue;
    }
    const key = `${entry.step}\u0000${kind}\u0000${entry.attempt}`;
    const isStart = entry.type === EntryType.Intent || entry.type === EntryType.CompensationIntent;
    let span = open.get(key);
    if (isStart || span === undefined) {
      span = {
        kind,
        attempt: entry.attempt,
        from: entry.at,
        to: entry.at,
        end: "open",
        via: undefined,
        token: entry.token,
        entries: [],
      };
      lane.spans.push(span);
      open.set(key, span);
    }
    span.entries.push(entry);
    if (!isStart) {
      Object.assign(span, {
        to: entry.at,
        end: entry.type as SpanEnd,
        via: entry.via,
        token: entry.token,
      });
      // An unknown outcome stays open for the probe's answer under the same attempt; any other
      // ends the span (a failed compensation is retried under a new intent, which opens a new one).
      if (entry.type !== EntryType.Unknown) open.delete(key);
    }
  }
  return {
    lanes: [...lanes].map(([step, lane]) => ({ step, ...lane })),
    takeovers,
    start,
    end: Math.max(end, start),
  };
}
