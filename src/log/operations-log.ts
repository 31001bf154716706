import type { OperatorEvent } from "../model/operator-event.js";
import type { OperatorAction, SagaStatus } from "../model/records.js";
import type { WorkerStatus } from "../model/worker-status.js";

/** What {@link OperationsLog.prune} is asked to do, and by whom. */
export interface OperatorPrune {
  /** Delete sagas last updated before this (milliseconds since the epoch, an integer). */
  readonly before: number;
  /**
   * Which terminal statuses to delete; any other is refused before anything is deleted.
   * @default PRUNABLE_STATUSES (completed and compensated)
   */
  readonly statuses?: readonly SagaStatus[];
  /** Now, on the operator's clock: a lease that expires after it is held, and the event's time. */
  readonly now: number;
  /** Who asks, and why: recorded in the event (`action` is normally `"prune"`). */
  readonly operator: OperatorAction;
}

/** Which operator events {@link OperationsLog.events} reads. */
export interface OperatorEventFilter {
  /** At most this many, the newest. @default 100 */
  readonly limit?: number;
}

/** Which worker reports {@link OperationsLog.workers} reads. */
export interface WorkerFilter {
  /** At most this many, those that reported last. @default 100 */
  readonly limit?: number;
}

/**
 * The log's own record of operations on it: what operators did to the log as a whole (operator
 * events), and what recovery workers report of themselves. Present on logs that keep it
 * (`SagaLog.operations`): every log lockstep ships does; the console refuses to prune a log without
 * it, since it could not record who did.
 *
 * What every implementation must guarantee:
 * - `prune` deletes what `SagaLog.prune` would, except sagas whose lease is held at `now` (a runner
 *   still finishing them), and records its operator event in the same atomic write: the deletion
 *   and its record commit together or not at all;
 * - `reportWorker` keeps one status per worker id, the last one reported.
 */
export interface OperationsLog {
  /**
   * Deletes the terminal sagas of `request.statuses` last updated before `request.before` whose
   * lease is not held at `request.now`, each with its entries, and records who asked, when, what,
   * how many were deleted (with their ids: the first 100 by id, `OPERATOR_EVENT_SAGA_IDS`) and how
   * many were left because their lease is held, atomically. Returns the event recorded. The reports
   * of workers last heard from before `request.before` are forgotten with them, so a log does not
   * keep one report for every worker process that ever ran.
   *
   * @example
   * ```ts
   * const event = await log.operations?.prune({
   *   before: Date.now() - 30 * 86_400_000,
   *   now: Date.now(),
   *   operator: { actor: "dana", action: "prune", note: "monthly retention" },
   * });
   * ```
   */
  prune(request: OperatorPrune): Promise<OperatorEvent>;
  /** The operator events recorded, newest first. */
  events(filter?: OperatorEventFilter): Promise<readonly OperatorEvent[]>;
  /** Keeps `status` as its worker's latest report, replacing the one before. */
  reportWorker(status: WorkerStatus): Promise<void>;
  /** The latest report of each worker that has reported, the most recent heartbeat first. */
  workers(filter?: WorkerFilter): Promise<readonly WorkerStatus[]>;
}
