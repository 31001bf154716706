import { z } from "zod";
import { AttentionReason } from "./attention-reason.js";
import { sagaDefinitionSchema } from "./definition.js";
import { ERROR_KINDS } from "./error-kind.js";

/** The schema version written into every record. A record with any other version is quarantined. */
export const SCHEMA_VERSION = 1;

/** Where a saga stands. */
export const SagaStatus = {
  /** Moving forward through its steps. */
  Running: "running",
  /** Undoing its committed steps in reverse. */
  Compensating: "compensating",
  /** Parked: a step's outcome could not be determined; the recoverer probes it again. */
  InDoubt: "in_doubt",
  /** Every step committed. Terminal. */
  Completed: "completed",
  /** Every committed step was compensated. Terminal. */
  Compensated: "compensated",
  /** Cannot progress without a person; the record says why. Terminal until an operator acts. */
  NeedsAttention: "needs_attention",
  /** A record failed validation; recovery leaves the saga alone. Terminal until an operator acts. */
  Quarantined: "quarantined",
} as const;

/** One of the values of {@link SagaStatus}. */
export type SagaStatus = (typeof SagaStatus)[keyof typeof SagaStatus];

/** Statuses a recoverer picks up once the lease is free. */
export const RECOVERABLE_STATUSES: readonly SagaStatus[] = Object.freeze([
  SagaStatus.Running,
  SagaStatus.Compensating,
  SagaStatus.InDoubt,
]);

/** Statuses after which nothing more happens to a saga on its own. */
export const TERMINAL_STATUSES: readonly SagaStatus[] = Object.freeze([
  SagaStatus.Completed,
  SagaStatus.Compensated,
  SagaStatus.NeedsAttention,
  SagaStatus.Quarantined,
]);

/**
 * Statuses `prune` removes by default: sagas that finished cleanly. A saga that needs attention or
 * is quarantined is evidence for an operator, so it is kept unless asked for explicitly.
 */
export const PRUNABLE_STATUSES: readonly SagaStatus[] = Object.freeze([
  SagaStatus.Completed,
  SagaStatus.Compensated,
]);

/** What each log entry records about a step. */
export const EntryType = {
  /** Write-ahead: the step is about to execute (attempt, key, fencing token). */
  Intent: "intent",
  /** The step committed; carries its raw output. */
  Committed: "committed",
  /** The step provably did not apply. */
  NotCommitted: "not_committed",
  /** The step may or may not have applied; a probe is owed. */
  Unknown: "unknown",
  /** Write-ahead: the step's compensation is about to run. */
  CompensationIntent: "compensation_intent",
  /** The compensation undid the step. */
  Compensated: "compensated",
  /** The step never executed, so compensating it was a recorded no-op. */
  CompensationSkipped: "compensation_skipped",
  /** The compensation failed and will be retried. */
  CompensationFailed: "compensation_failed",
  /** The compensation's guard failed; it wrote nothing. */
  GuardFailed: "guard_failed",
  /**
   * A person acted on the saga (from the console): who, what, and a note. It concerns the saga, not
   * a step: its `step` is {@link OPERATOR_STEP}, and replay moves nothing for it.
   */
  Operator: "operator",
} as const;

/** One of the values of {@link EntryType}. */
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** The `step` of an {@link EntryType.Operator} entry: no step of a saga can bear this name. */
export const OPERATOR_STEP = "(operator)";

/** What an operator did, carried by an {@link EntryType.Operator} entry. */
export const operatorActionSchema = z.object({
  /** Who acted: the name the console was started with, or what the request gave. */
  actor: z.string().min(1).max(200),
  /** What was done: `recover`, `retry`, … */
  action: z.string().min(1).max(64),
  /** A sentence saying what and why. */
  note: z.string().max(2000),
});

/** What an operator did, carried by an {@link EntryType.Operator} entry. */
export type OperatorAction = z.infer<typeof operatorActionSchema>;

const attentionSchema = z.object({
  reason: z.enum(Object.values(AttentionReason) as [AttentionReason, ...AttentionReason[]]),
  step: z.string(),
  message: z.string(),
});

/** The saga header record. */
export const sagaRecordSchema = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  sagaId: z.string().min(1),
  definition: sagaDefinitionSchema,
  input: z.unknown(),
  status: z.enum(Object.values(SagaStatus) as [SagaStatus, ...SagaStatus[]]),
  attention: attentionSchema.nullable(),
  fencingToken: z.number().int().min(1),
  leaseOwner: z.string().nullable(),
  leaseExpiresAt: z.number().int().nullable(),
  recoveryAttempts: z.number().int().min(0),
  nextRecoveryAt: z.number().int().min(0),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
});

/** The saga header record. */
export type SagaRecord = z.infer<typeof sagaRecordSchema>;

/** A step log entry. */
export const stepEntrySchema = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  sagaId: z.string().min(1),
  seq: z.number().int().min(1),
  step: z.string().min(1),
  type: z.enum(Object.values(EntryType) as [EntryType, ...EntryType[]]),
  attempt: z.number().int().min(1),
  token: z.number().int().min(1),
  at: z.number().int(),
  output: z.unknown().optional(),
  error: z
    .object({ kind: z.enum(ERROR_KINDS as [string, ...string[]]), message: z.string() })
    .optional(),
  via: z.enum(["execute", "probe", "co_commit"]).optional(),
  /** For an `operator` entry: who did what. */
  operator: operatorActionSchema.optional(),
});

/** A step log entry. */
export type StepEntry = z.infer<typeof stepEntrySchema>;

/** A step entry as the runner hands it to the log, before the log numbers it. */
export type NewStepEntry = Omit<StepEntry, "schemaVersion" | "sagaId" | "seq" | "token">;

/**
 * The entry that records what an operator did to a saga, at `at`: written in the same log write as
 * the change it describes, under the fencing token of that write.
 */
export function operatorEntry(action: OperatorAction, at: number): NewStepEntry {
  return { step: OPERATOR_STEP, type: EntryType.Operator, attempt: 1, at, operator: action };
}

/** A saga's header and its entries in order. */
export interface SagaSnapshot {
  readonly record: SagaRecord;
  readonly entries: readonly StepEntry[];
}

/** Names the first invalid field of a zod failure, as a dotted path. */
export function firstIssuePath(error: z.ZodError): string {
  const path = error.issues[0]?.path ?? [];
  return path.length === 0 ? "(record)" : path.map(String).join(".");
}
