import type { AttentionReason } from "../model/attention-reason.js";
import { hasBrand } from "../model/brand.js";
import type { ErrorKind } from "../model/error-kind.js";
import type { SagaReport } from "./report.js";

/**
 * Every code a lockstep operation can fail with, in one table. Public operations return these as
 * values (`Result` errors), never as exceptions.
 */
export const ErrorCode = {
  /** The saga input failed its schema; nothing was written. */
  InvalidInput: "invalid_input",
  /** An option passed to a call was out of range; nothing was written. */
  InvalidOptions: "invalid_options",
  /** A step failed before the pivot; what had committed was compensated (or is being). */
  StepFailed: "step_failed",
  /** The saga cannot progress without a person: a guard failed, a compensation gave up, … */
  NeedsAttention: "needs_attention",
  /** A step's outcome could not be determined; the saga is parked for the recoverer to probe again. */
  InDoubt: "in_doubt",
  /** The pivot committed but a later step has not yet; recovery will roll the saga forward. */
  Incomplete: "incomplete",
  /** The run was cancelled through its signal; what had committed was compensated. */
  Cancelled: "cancelled",
  /** Another runner took over the saga (its lease expired); this runner stopped writing. */
  LeaseLost: "lease_lost",
  /** A saga with this id already exists in the log. */
  SagaExists: "saga_exists",
  /** No saga with this id exists in the log. */
  SagaNotFound: "saga_not_found",
  /** The saga log failed to read or write. */
  LogFailed: "log_failed",
  /** A log record failed validation; the saga is quarantined. */
  RecordCorrupt: "record_corrupt",
  /** `runAtomic` was asked for atomicity the store cannot give; nothing was written. */
  AtomicityUnavailable: "atomicity_unavailable",
  /** The work needs a capability the store does not declare; nothing was written. */
  CapabilityMissing: "capability_missing",
  /** A guarded write affected nothing: another writer got there first. */
  Conflict: "conflict",
  /** A `runAtomic` write failed and nothing of the work remains applied. */
  WriteFailed: "write_failed",
  /**
   * A `runAtomic` write failed and the work could not be fully undone: some writes are still (or
   * may still be) applied. The error names them and says why (an undo that kept failing, an undo
   * whose guard lost, an outcome nobody could check).
   */
  PartiallyApplied: "partially_applied",
} as const;

/** One of the values of {@link ErrorCode}. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** One schema issue, with the path of the offending field. */
export interface InputIssue {
  /** Dotted path of the field, e.g. `"bounty.amount"`; empty for the root. */
  readonly path: string;
  /** What is wrong with it. */
  readonly message: string;
}

const ERROR_BRAND = Symbol.for("lockstep.error");

interface ErrorBase<C extends ErrorCode> {
  readonly code: C;
  /** A full sentence saying what happened. */
  readonly message: string;
}

/** The saga input (or `runAtomic` input) failed validation. */
export interface InvalidInputError extends ErrorBase<typeof ErrorCode.InvalidInput> {
  readonly saga: string;
  readonly issues: readonly InputIssue[];
}
/** An option was out of range. */
export interface InvalidOptionsError extends ErrorBase<typeof ErrorCode.InvalidOptions> {
  readonly option: string;
}
/** A step failed before the pivot. */
export interface StepFailedError extends ErrorBase<typeof ErrorCode.StepFailed> {
  readonly sagaId: string;
  readonly step: string;
  readonly kind: ErrorKind;
  /** The error the step failed with. */
  readonly cause: unknown;
  readonly report: SagaReport;
}
/** The saga needs a person. */
export interface NeedsAttentionError extends ErrorBase<typeof ErrorCode.NeedsAttention> {
  readonly sagaId: string;
  readonly step: string;
  readonly reason: AttentionReason;
  readonly cause?: unknown;
  readonly report: SagaReport;
}
/** A step is in doubt. */
export interface InDoubtError extends ErrorBase<typeof ErrorCode.InDoubt> {
  readonly sagaId: string;
  readonly step: string;
  /**
   * Why the step cannot be settled, when lockstep knows more than that its probe could not tell:
   * `idempotency_window_expired` when its key outlived its store's key window.
   */
  readonly reason?: AttentionReason;
  readonly report: SagaReport;
}
/** The pivot committed; later steps are left to recovery. */
export interface IncompleteError extends ErrorBase<typeof ErrorCode.Incomplete> {
  readonly sagaId: string;
  readonly step: string;
  readonly cause?: unknown;
  readonly report: SagaReport;
}
/** The run was cancelled. */
export interface CancelledError extends ErrorBase<typeof ErrorCode.Cancelled> {
  readonly sagaId: string;
  readonly reason: unknown;
  readonly report: SagaReport;
}
/** This runner lost its lease. */
export interface LeaseLostError extends ErrorBase<typeof ErrorCode.LeaseLost> {
  readonly sagaId: string;
}
/** A saga with this id exists. */
export interface SagaExistsError extends ErrorBase<typeof ErrorCode.SagaExists> {
  readonly sagaId: string;
}
/** No saga with this id. */
export interface SagaNotFoundError extends ErrorBase<typeof ErrorCode.SagaNotFound> {
  readonly sagaId: string;
}
/** The log failed. */
export interface LogFailedError extends ErrorBase<typeof ErrorCode.LogFailed> {
  readonly sagaId?: string;
  readonly cause: unknown;
}
/** A log record is corrupt. */
export interface RecordCorruptError extends ErrorBase<typeof ErrorCode.RecordCorrupt> {
  readonly sagaId: string;
  readonly field: string;
}
/** `runAtomic` could not be atomic. */
export interface AtomicityUnavailableError
  extends ErrorBase<typeof ErrorCode.AtomicityUnavailable> {
  readonly store: string;
}
/** A capability is missing. */
export interface CapabilityMissingError extends ErrorBase<typeof ErrorCode.CapabilityMissing> {
  readonly store: string;
  readonly capability: string;
}
/** A guarded write lost. */
export interface ConflictError extends ErrorBase<typeof ErrorCode.Conflict> {
  readonly store: string;
  /** Position of the write in the work. */
  readonly index: number;
  readonly write: string;
  /**
   * The writes applied all the same, by name: empty, unless a batch store was not given the guard
   * to enforce (the write itself does not carry it) and so applied the rest of the batch.
   */
  readonly applied: readonly string[];
}
/** A `runAtomic` write failed. */
export interface WriteFailedError extends ErrorBase<typeof ErrorCode.WriteFailed> {
  readonly store: string;
  readonly index: number;
  readonly write: string;
  readonly kind: ErrorKind;
  readonly cause: unknown;
}

/**
 * Why a `runAtomic` failure left writes in place: `compensation_failed` — an undo failed on every
 * attempt of the retry policy; `guard_lost` — an undo's guard found its target changed by another
 * writer, so it undid nothing; `outcome_unknown` — whether an undo landed could not be checked.
 */
export type PartialReason = "compensation_failed" | "guard_lost" | "outcome_unknown";

/**
 * A `runAtomic` write failed and not everything before it could be undone. Only the sequential
 * strategy (a store with neither transactions nor batches) can end this way.
 *
 * @example
 * ```ts
 * const outcome = await runAtomic(store, [{ name: "order", build: () => memoryPut("order:o-1", "placed") }]);
 * if (outcome.isErr() && outcome.error.code === ErrorCode.PartiallyApplied) {
 *   console.warn(`still applied: ${outcome.error.applied.join(", ")} (saga ${outcome.error.sagaId})`);
 * }
 * ```
 */
export interface PartiallyAppliedError extends ErrorBase<typeof ErrorCode.PartiallyApplied> {
  readonly store: string;
  /** Why the work is left partly applied. */
  readonly reason: PartialReason;
  /** The writes still applied, by name, in order. */
  readonly applied: readonly string[];
  /** The writes whose undo may or may not have landed, by name, in order. */
  readonly unknown: readonly string[];
  /** Position of the write that failed, or of the first write left applied when none failed. */
  readonly index: number;
  /** The name of that write. */
  readonly write: string;
  /** How that write failed. */
  readonly kind: ErrorKind;
  /** The error it failed with. */
  readonly cause: unknown;
  /** The id of the saga the sequential writes ran as, in the runner's log. */
  readonly sagaId: string;
  /** Where each write ended, as saga steps named `<position>:<write name>`. */
  readonly report: SagaReport;
  /**
   * Whether a recoverer can still finish the work: `true` when runAtomic was given a `log` or a
   * `runner` (a recoverer given `atomicSaga(store, writes)` over that log can); `false` when the
   * saga lives in runAtomic's own in-memory log, which no recoverer can see, or when an undo's
   * guard lost (`guard_lost`), which recovery leaves to a person.
   */
  readonly recoverable: boolean;
}

/** Every error a lockstep operation returns, discriminated on `code`. */
export type LockstepError =
  | InvalidInputError
  | InvalidOptionsError
  | StepFailedError
  | NeedsAttentionError
  | InDoubtError
  | IncompleteError
  | CancelledError
  | LeaseLostError
  | SagaExistsError
  | SagaNotFoundError
  | LogFailedError
  | RecordCorruptError
  | AtomicityUnavailableError
  | CapabilityMissingError
  | ConflictError
  | WriteFailedError
  | PartiallyAppliedError;

/** The errors a saga run can end with. */
export type SagaError = Extract<
  LockstepError,
  {
    code:
      | typeof ErrorCode.InvalidInput
      | typeof ErrorCode.InvalidOptions
      | typeof ErrorCode.StepFailed
      | typeof ErrorCode.NeedsAttention
      | typeof ErrorCode.InDoubt
      | typeof ErrorCode.Incomplete
      | typeof ErrorCode.Cancelled
      | typeof ErrorCode.LeaseLost
      | typeof ErrorCode.SagaExists
      | typeof ErrorCode.LogFailed
      | typeof ErrorCode.RecordCorrupt;
  }
>;

/** The errors `runAtomic` can end with. */
export type AtomicError = Extract<
  LockstepError,
  {
    code:
      | typeof ErrorCode.InvalidOptions
      | typeof ErrorCode.AtomicityUnavailable
      | typeof ErrorCode.CapabilityMissing
      | typeof ErrorCode.Conflict
      | typeof ErrorCode.WriteFailed
      | typeof ErrorCode.PartiallyApplied
      | typeof ErrorCode.NeedsAttention
      | typeof ErrorCode.InDoubt
      | typeof ErrorCode.Cancelled;
  }
>;

/**
 * Builds a frozen, branded error value, recognized by {@link isLockstepError} in any copy of
 * lockstep. For adapters and recipes that return lockstep errors of their own.
 */
export function lockstepError<E extends LockstepError>(error: E): E {
  return Object.freeze(Object.defineProperty({ ...error }, ERROR_BRAND, { value: true }));
}

/** Whether a value is an error value produced by any copy of lockstep (ESM or CJS). */
export function isLockstepError(value: unknown): value is LockstepError {
  return hasBrand(value, ERROR_BRAND);
}
