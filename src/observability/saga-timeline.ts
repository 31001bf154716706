import { type ReplayedStep, replaySteps } from "../log/replay.js";
import type { AttentionReason } from "../model/attention-reason.js";
import type { OperatorAction, SagaRecord, SagaSnapshot, SagaStatus } from "../model/records.js";

/** One moment of a saga's history, as its log records it. */
export interface TimelineEntry {
  /** The entry's number within the saga, from 1. */
  readonly seq: number;
  /** When it was written, on the runner's clock (milliseconds since the epoch). */
  readonly at: number;
  /** The step it concerns. */
  readonly step: string;
  /**
   * What happened: `intent`, `committed`, `not_committed`, `unknown`, `compensation_intent`,
   * `compensated`, `compensation_skipped`, `compensation_failed`, `guard_failed` or `operator`.
   */
  readonly type: string;
  /** The attempt it belongs to. */
  readonly attempt: number;
  /** The fencing token of the lease holder that wrote it. */
  readonly token: number;
  /** Whether the token is higher than the previous entry's: another runner had taken the saga over. */
  readonly takeover: boolean;
  /** How a commit was learned, for `committed` entries. */
  readonly via: string | undefined;
  /** The committed output, for `committed` entries. */
  readonly output: unknown;
  /** The error recorded with the entry. */
  readonly error:
    | {
        /** The error kind. */
        readonly kind: string;
        /** The error's message. */
        readonly message: string;
      }
    | undefined;
  /** For an `operator` entry: who did what to the saga, from the console. */
  readonly operator: OperatorAction | undefined;
}

/** A saga's history as one readable structure: header, step states and every log entry. */
export interface SagaTimeline {
  /** The saga id. */
  readonly sagaId: string;
  /** The saga's name. */
  readonly saga: string;
  /** Its definition version. */
  readonly version: number;
  /** Where it stands. */
  readonly status: SagaStatus;
  /** When it was created, in milliseconds since the epoch. */
  readonly createdAt: number;
  /** When it was last updated, in milliseconds since the epoch. */
  readonly updatedAt: number;
  /** The lease: its holder, when it lapses, and the current fencing token. */
  readonly lease: {
    /** The runner holding it, or `null` when it is free. */
    readonly owner: string | null;
    /** When it lapses, in milliseconds since the epoch, or `null` when it is free. */
    readonly expiresAt: number | null;
    /** The saga's current fencing token. */
    readonly token: number;
  };
  /** Recovery attempts so far, and when the next may start. */
  readonly recovery: {
    /** How many recovery attempts were counted. */
    readonly attempts: number;
    /** When the next may start, in milliseconds since the epoch. */
    readonly nextAt: number;
  };
  /** Why the saga needs attention, when it does. */
  readonly attention:
    | {
        /** The typed reason. */
        readonly reason: AttentionReason;
        /** The step it concerns; empty when it concerns the whole saga. */
        readonly step: string;
        /** A full sentence saying what happened. */
        readonly message: string;
      }
    | undefined;
  /** The logged input. */
  readonly input: unknown;
  /** Every step, in definition order, as the log leaves it. */
  readonly steps: readonly ReplayedStep[];
  /** Every log entry, in order. */
  readonly entries: readonly TimelineEntry[];
}

/**
 * Turns a saga snapshot (from `log.load`) into a timeline: the saga's header, its steps' states as
 * a runner would rebuild them, and every intent, outcome and compensation with the fencing token it
 * was written under, marking where another runner took over. Needs no saga definition: the log
 * records it.
 *
 * @example
 * ```ts
 * const snapshot = await log.load(sagaId);
 * if (snapshot !== undefined) {
 *   const timeline = sagaTimeline(snapshot);
 *   console.log(timeline.status, timeline.steps.map((s) => `${s.name}=${s.status}`).join(" "));
 * }
 * ```
 */
export function sagaTimeline(snapshot: SagaSnapshot): SagaTimeline {
  const record: SagaRecord = snapshot.record;
  let previousToken = 0;
  const entries = snapshot.entries.map((entry): TimelineEntry => {
    const takeover = previousToken !== 0 && entry.token > previousToken;
    previousToken = Math.max(previousToken, entry.token);
    return {
      seq: entry.seq,
      at: entry.at,
      step: entry.step,
      type: entry.type,
      attempt: entry.attempt,
      token: entry.token,
      takeover,
      via: entry.via,
      output: entry.output,
      error: entry.error,
      operator: entry.operator,
    };
  });
  return {
    sagaId: record.sagaId,
    saga: record.definition.name,
    version: record.definition.version,
    status: record.status,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    lease: {
      owner: record.leaseOwner,
      expiresAt: record.leaseExpiresAt,
      token: record.fencingToken,
    },
    recovery: { attempts: record.recoveryAttempts, nextAt: record.nextRecoveryAt },
    attention: record.attention ?? undefined,
    input: record.input,
    steps: replaySteps(record.definition, snapshot.entries),
    entries,
  };
}
