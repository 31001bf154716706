export { atomicSaga } from "./core/atomic-saga.js";
export { type AttemptFence, NO_FENCE } from "./core/attempt-fence.js";
export {
  CAPABILITY_NAMES,
  declareCapabilities,
  NO_CAPABILITIES,
  type StoreCapabilities,
} from "./core/capabilities.js";
export { type Clock, sleep, systemClock } from "./core/clock.js";
export type {
  CompensationPolicy,
  CompensationRetry,
} from "./core/compensation-policy.js";
export type { CallOutcome, CallScope } from "./core/deadline.js";
export { classifyError, type ErrorClassifier, StoreError } from "./core/error-kinds.js";
export {
  type AtomicError,
  type AtomicityUnavailableError,
  type CancelledError,
  type CapabilityMissingError,
  type ConflictError,
  ErrorCode,
  type IncompleteError,
  type InDoubtError,
  type InputIssue,
  type InvalidInputError,
  type InvalidOptionsError,
  isLockstepError,
  type LeaseLostError,
  type LockstepError,
  type LogFailedError,
  lockstepError,
  type NeedsAttentionError,
  type PartiallyAppliedError,
  type PartialReason,
  type RecordCorruptError,
  type SagaError,
  type SagaExistsError,
  type SagaNotFoundError,
  type StepFailedError,
  type WriteFailedError,
} from "./core/errors.js";
export type { EventListener, Logger, SagaEvent, SagaEventType } from "./core/events.js";
export {
  assertExplained,
  type CompensationPlan,
  type ExplainOptions,
  explain,
  InDoubtWindow,
  type PlanGap,
  PlanGapCode,
  type SagaPlan,
  type StepPlan,
} from "./core/explain.js";
export type { OutboxPlan, OutboxRecording } from "./core/explain-outbox.js";
export { newSagaId, stepKey } from "./core/ids.js";
export type { KeyWindow } from "./core/key-window.js";
export {
  type CompletedReport,
  type SagaReport,
  type StepReport,
  StepStatus,
  type StepStrategy,
} from "./core/report.js";
export { backoffDelay, DEFAULT_RETRY, type RetryPolicy } from "./core/retry.js";
export {
  type AtomicReport,
  type AtomicStrategy,
  type AtomicWrite,
  type RunAtomicOptions,
  runAtomic,
} from "./core/run-atomic.js";
export { createRunner, type Runner, type RunnerOptions, type RunOptions } from "./core/runner.js";
export {
  type DefineSagaOptions,
  defineSaga,
  type Saga,
  type SagaBuilder,
  type SagaDefinitionData,
  type SagaInput,
  type SagaOutputs,
  type SagaRawInput,
  type SagaRecoveryPolicy,
} from "./core/saga.js";
export {
  type CompensateContext,
  type CompensationResult,
  cannotTell,
  committed,
  compensated,
  EscalationError,
  escalate,
  guardFailed,
  notCommitted,
  type ProbeResult,
  type PublishContext,
  type StepConfig,
  type StepContext,
  type StepDefinition,
} from "./core/step.js";
export {
  defineStore,
  isWriteStore,
  type StepCall,
  type StepStore,
  type Store,
  type StoreDefinition,
  type WriteStore,
} from "./core/store.js";
export { MAX_DURATION_MS } from "./core/validate.js";
export {
  applyChange,
  checkListFilter,
  checkWrite,
  isLeaseFree,
  matchesListFilter,
  numberEntries,
  prunableStatuses,
  validateLogRecord,
} from "./log/log-rules.js";
export { MemorySagaLog } from "./log/memory-log.js";
export { MemoryOperations, type MemoryPruned } from "./log/memory-operations.js";
export { MemoryOutbox } from "./log/memory-outbox.js";
export type {
  OperationsLog,
  OperatorEventFilter,
  OperatorPrune,
  WorkerFilter,
} from "./log/operations-log.js";
export {
  type CheckedPrune,
  checkOperatorPrune,
  prunedEvent,
  readOperatorEvent,
  validateWorkerStatus,
} from "./log/operations-rules.js";
export type {
  ClaimedMessage,
  DeliveryFailure,
  OutboxFilter,
  OutboxLog,
} from "./log/outbox-log.js";
export {
  afterFailure,
  holdsClaim,
  isClaimable,
  newOutboxRecord,
} from "./log/outbox-rules.js";
export type { CompensationState, ReplayedStep } from "./log/replay.js";
export {
  type ClaimedSaga,
  type ClaimFilter,
  type CoCommitLog,
  cursorOf,
  LogFailure,
  type SagaChange,
  type SagaCursor,
  type SagaFilter,
  type SagaLog,
  SagaLogError,
  SagaOrder,
} from "./log/saga-log.js";
export { AttentionReason } from "./model/attention-reason.js";
export { type SagaDefinition, sagaDefinitionSchema } from "./model/definition.js";
export { LockstepDefinitionError } from "./model/definition-error.js";
export { ERROR_KINDS, ErrorKind, isProvablyNotApplied } from "./model/error-kind.js";
export {
  OPERATOR_EVENT_SAGA_IDS,
  type OperatorEvent,
  operatorEventSchema,
} from "./model/operator-event.js";
export {
  type NewOutboxMessage,
  OUTBOX_STATUSES,
  type OutboxMessageInput,
  type OutboxRecord,
  OutboxStatus,
  outboxMessageId,
  outboxRecordSchema,
} from "./model/outbox.js";
export {
  EntryType,
  type NewStepEntry,
  OPERATOR_STEP,
  type OperatorAction,
  operatorActionSchema,
  operatorEntry,
  PRUNABLE_STATUSES,
  RECOVERABLE_STATUSES,
  type SagaRecord,
  type SagaSnapshot,
  SagaStatus,
  SCHEMA_VERSION,
  type StepEntry,
  sagaRecordSchema,
  stepEntrySchema,
  TERMINAL_STATUSES,
} from "./model/records.js";
export { LockstepRuntimeError } from "./model/runtime-error.js";
export { StepKind } from "./model/step-kind.js";
export { type WorkerStatus, workerStatusSchema } from "./model/worker-status.js";
export {
  DIAGNOSED_STATUSES,
  type DiagnoseAllOptions,
  type DiagnoseOptions,
  diagnose,
  diagnoseSaga,
} from "./observability/diagnose-saga.js";
export type { SagaDiagnosis, StepFinding } from "./observability/diagnosis.js";
export {
  type OtelListener,
  type OtelListenerOptions,
  otelListener,
  SpanAttribute,
} from "./observability/otel-listener.js";
export type {
  OtelAttributes,
  OtelAttributeValue,
  OtelContext,
  OtelContextApi,
  OtelSpan,
  OtelSpanOptions,
  OtelTracer,
} from "./observability/otel-types.js";
export { type ProbeFinding, RecoveryAction } from "./observability/recovery-forecast.js";
export {
  type SagaTimeline,
  sagaTimeline,
  type TimelineEntry,
} from "./observability/saga-timeline.js";
export {
  type SpanEnd,
  type TimelineLane,
  type TimelineLayout,
  type TimelineSpan,
  type TimelineTakeover,
  timelineLayout,
} from "./observability/timeline-lanes.js";
export { renderTimelineSvg, type TimelineSvgOptions } from "./observability/timeline-svg.js";
export { renderTimelineText, TIMELINE_TEXT_LEGEND } from "./observability/timeline-text.js";
export { markForRetry, type RetryMarking, retryStatus } from "./recovery/mark-for-retry.js";
export {
  createRecoverer,
  type RecoveredSaga,
  type Recoverer,
  type RecovererOptions,
  type RecoverOptions,
  type RecoveryOutcome,
  type RecoveryReport,
} from "./recovery/recoverer.js";
export {
  createRecoveryWorker,
  type RecoveryWorker,
} from "./recovery/recovery-worker.js";
export type {
  RecoveryWorkerEvent,
  RecoveryWorkerEventType,
  RecoveryWorkerListener,
  RecoveryWorkerStopReason,
  RecoveryWorkerSummary,
} from "./recovery/recovery-worker-events.js";
export type { RecoveryWorkerOptions } from "./recovery/recovery-worker-options.js";
export { otelRecoveryListener, RecoverySpanAttribute } from "./recovery/recovery-worker-otel.js";
export type { WorkerIdentity } from "./recovery/worker-status-reporter.js";
