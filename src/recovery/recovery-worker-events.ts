import type { InvalidOptionsError, LogFailedError } from "../core/errors.js";
import type { RelayPass } from "../outbox/relay-events.js";
import type { RecoveryOutcome, RecoveryReport } from "./recoverer.js";

interface WorkerEventBase<T extends string> {
  readonly type: T;
  /** The worker's name in lease records: its runner's `owner`. */
  readonly owner: string;
  /** When it happened, on the runner's clock. */
  readonly at: number;
}

/** Why a recovery worker stopped: `stop()` was called, or its `signal` aborted. */
export type RecoveryWorkerStopReason = "stopped" | "aborted";

/**
 * What a recovery worker does, as typed events: one per pass, whether it recovered something, found
 * nothing or failed, and one when it has stopped. The sagas a pass drives emit their own saga
 * events through the runner's `onEvent`.
 */
export type RecoveryWorkerEvent =
  | (WorkerEventBase<"recovery.pass"> & {
      /** The pass's number, from 1. */
      readonly pass: number;
      /** When the pass started, on the runner's clock; `at` is when it ended. */
      readonly startedAt: number;
      /** How many sagas the pass claimed. */
      readonly claimed: number;
      /** How many of them ended each way. */
      readonly counts: Readonly<Record<RecoveryOutcome, number>>;
      /** The pass's whole report, one outcome per saga. */
      readonly report: RecoveryReport;
      /** How long the worker waits before its next pass, in milliseconds. */
      readonly nextPollMs: number;
      /** What the worker's outbox relay did after the pass, when it has one and its pass ran. */
      readonly relay?: RelayPass;
    })
  | (WorkerEventBase<"recovery.pass_failed"> & {
      readonly pass: number;
      readonly startedAt: number;
      /** Why the pass could not claim sagas; the worker retries with backoff. */
      readonly error: LogFailedError | InvalidOptionsError;
      /** How many passes in a row have failed, this one included. */
      readonly consecutiveFailures: number;
      readonly nextPollMs: number;
    })
  | (WorkerEventBase<"recovery.stopped"> & RecoveryWorkerSummary);

/** The `type` of every recovery worker event. */
export type RecoveryWorkerEventType = RecoveryWorkerEvent["type"];

/**
 * Receives recovery worker events. It must not throw; if it does, the error is given to the logger
 * and dropped.
 */
export type RecoveryWorkerListener = (event: RecoveryWorkerEvent) => void;

/** What a recovery worker did from its start until it stopped. */
export interface RecoveryWorkerSummary {
  /** Why it stopped. */
  readonly reason: RecoveryWorkerStopReason;
  /** How many passes it ran, failed ones included. */
  readonly passes: number;
  /** How many of those failed. */
  readonly failedPasses: number;
  /** How many sagas its passes claimed, by outcome. */
  readonly recovered: Readonly<Record<RecoveryOutcome, number>>;
  /**
   * How many leases it still held once its last pass ended and released on stopping (a saga whose
   * drive failed keeps its lease until it lapses otherwise).
   */
  readonly released: number;
}
