import type { LogFailedError, RecordCorruptError, SagaError } from "../core/errors.js";
import type { SagaReport } from "../core/report.js";

/** What recovery did with one saga. */
export type RecoveryOutcome =
  | "completed"
  | "compensated"
  | "needs_attention"
  | "in_doubt"
  | "incomplete"
  | "compensating"
  | "quarantined"
  | "lease_lost"
  | "failed";

/** One saga's part of a recovery report. */
export interface RecoveredSaga {
  readonly sagaId: string;
  /** The saga's name, when its record could be read. */
  readonly saga: string | undefined;
  readonly outcome: RecoveryOutcome;
  /** The saga's report, when it was driven. */
  readonly report?: SagaReport;
  /** The error the drive ended with, if any. */
  readonly error?: SagaError | RecordCorruptError | LogFailedError;
}

/** What one recovery pass did. */
export interface RecoveryReport {
  /** How many sagas the pass claimed. */
  readonly claimed: number;
  /** Each claimed saga's outcome, in claim order. */
  readonly sagas: readonly RecoveredSaga[];
  /** Outcome counts. */
  readonly counts: Readonly<Record<RecoveryOutcome, number>>;
}
