import type { StepStatus } from "../core/report.js";
import type { ReplayedStep } from "../log/replay.js";
import type { SagaRecord, SagaStatus } from "../model/records.js";
import type { ProbeFinding, RecoveryAction } from "./recovery-forecast.js";
import type { SagaTimeline } from "./saga-timeline.js";

/** One step of a diagnosed saga: what the log says, and what its probe said when it was asked. */
export interface StepFinding extends ReplayedStep {
  /** What the probe said, when the log leaves the step `unknown` and it has a probe. */
  readonly probe: ProbeFinding | undefined;
  /** Why the probe failed, when it did. */
  readonly probeError: string | undefined;
  /** The step's state once the probe is taken into account. */
  readonly actual: StepStatus;
}

/** What a diagnosis found about one saga, and what recovery will do with it. */
export interface SagaDiagnosis {
  /** The saga id. */
  readonly sagaId: string;
  /** The saga's name. */
  readonly saga: string;
  /** Its definition version, as logged. */
  readonly version: number;
  /** Its status in the log. */
  readonly status: SagaStatus;
  /** The lease, and whether it is live now (a runner may be driving the saga). */
  readonly lease: {
    /** The runner holding it, or `null` when it is free. */
    readonly owner: string | null;
    /** When it lapses, in milliseconds since the epoch, or `null` when it is free. */
    readonly expiresAt: number | null;
    /** The saga's current fencing token. */
    readonly token: number;
    /** Whether a runner holds it now, so recovery must wait for it to lapse. */
    readonly live: boolean;
  };
  /** Recovery attempts so far, when the next may start, and whether that is now. */
  readonly recovery: {
    /** How many recovery attempts were counted. */
    readonly attempts: number;
    /** When the next may start, in milliseconds since the epoch. */
    readonly nextAt: number;
    /** Whether the next attempt may start now. */
    readonly due: boolean;
  };
  /** Why the saga needs attention, when the log says it does: the timeline's reading of it. */
  readonly attention: SagaTimeline["attention"];
  /** Every step, in definition order. Empty when the record could not be read. */
  readonly steps: readonly StepFinding[];
  /** What is true, in full sentences. */
  readonly facts: readonly string[];
  /** What recovery will do. */
  readonly action: RecoveryAction;
  /** The steps recovery will run or undo, in order, or the one it stops at. */
  readonly actionSteps: readonly string[];
  /** What recovery will do, in words, including when it may start. */
  readonly plan: string;
  /** Whether the saga needs someone's eyes: in doubt, stuck, waiting for a person, unreadable. */
  readonly problem: boolean;
}

/** A diagnosis's header: the saga and where its lease and recovery stand, read from its record. */
export type DiagnosisHeader = Omit<
  SagaDiagnosis,
  "steps" | "facts" | "action" | "actionSteps" | "plan" | "problem"
>;

/** The header of the saga `record` holds, its lease and recovery timed against `now`. */
export function header(record: SagaRecord, now: number): DiagnosisHeader {
  return {
    sagaId: record.sagaId,
    saga: record.definition.name,
    version: record.definition.version,
    status: record.status,
    lease: {
      owner: record.leaseOwner,
      expiresAt: record.leaseExpiresAt,
      token: record.fencingToken,
      live: record.leaseOwner !== null && (record.leaseExpiresAt ?? 0) > now,
    },
    recovery: {
      attempts: record.recoveryAttempts,
      nextAt: record.nextRecoveryAt,
      due: record.nextRecoveryAt <= now,
    },
    attention: record.attention ?? undefined,
  };
}

/** A step as the log leaves it, its probe not asked. */
export function unprobed(step: ReplayedStep): StepFinding {
  return { ...step, probe: undefined, probeError: undefined, actual: step.status };
}
