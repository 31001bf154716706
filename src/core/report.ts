import type { AttentionReason } from "../model/attention-reason.js";
import type { ErrorKind } from "../model/error-kind.js";
import type { SagaStatus } from "../model/records.js";
import type { StepKind } from "../model/step-kind.js";

/** Where one step ended up. */
export const StepStatus = {
  /** The step's write is in place. */
  Committed: "committed",
  /** The step's write provably did not land. */
  NotCommitted: "not_committed",
  /** The step committed and was then undone. */
  Compensated: "compensated",
  /** The step's outcome is not known; the saga is in doubt or was interrupted. */
  Unknown: "unknown",
  /** The step never started. */
  Skipped: "skipped",
} as const;

/** One of the values of {@link StepStatus}. */
export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];

/**
 * How a step's write was made safe: `saga` — a probed, logged step (compensated if need be);
 * `co_committed` — committed in one transaction with its log record, so it has no in-doubt window;
 * `batch_co_committed` — applied in one atomic batch with its log record and a fencing check (a
 * batch-only database such as D1), with no in-doubt window either.
 */
export type StepStrategy = "saga" | "co_committed" | "batch_co_committed";

/** The report of one step. */
export interface StepReport {
  readonly name: string;
  readonly kind: StepKind;
  /** The id of the store it writes to. */
  readonly store: string;
  readonly status: StepStatus;
  readonly strategy: StepStrategy;
  /** How many times execute was called (in this process and, after recovery, in every process). */
  readonly attempts: number;
  /** How the commit was learned, when it was: from execute's return, or from the probe. */
  readonly committedVia?: "execute" | "probe";
  /** The last error seen, if any. */
  readonly error?: { readonly kind: ErrorKind; readonly message: string };
}

/** What a run (or a recovery) came to. */
export interface SagaReport<Outputs = Record<string, unknown>> {
  readonly sagaId: string;
  /** The saga's name. */
  readonly saga: string;
  readonly status: SagaStatus;
  /** Every step, in definition order. */
  readonly steps: readonly StepReport[];
  /** The validated outputs of the steps that are committed. */
  readonly outputs: Partial<Outputs>;
  /** Why the saga needs attention, when it does. */
  readonly attention?: {
    readonly reason: AttentionReason;
    readonly step: string;
    readonly message: string;
  };
}

/** The report of a saga that completed: every output is present. */
export type CompletedReport<Outputs> = SagaReport<Outputs> & {
  readonly status: "completed";
  readonly outputs: Outputs;
};
