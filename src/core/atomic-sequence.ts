import { err, ok, type Result } from "neverthrow";
import { AttentionReason } from "../model/attention-reason.js";
import { ErrorKind } from "../model/error-kind.js";
import { conflict, failed, findGuardLost, nameAt } from "./atomic-failure.js";
import { type AtomicTrace, sequenceSaga } from "./atomic-saga.js";
import type { AtomicReport, AtomicWrite, RunAtomicOptions } from "./atomic-write.js";
import type { Clock } from "./clock.js";
import {
  type AtomicError,
  ErrorCode,
  lockstepError,
  type PartialReason,
  type SagaError,
} from "./errors.js";
import { messageOf } from "./message-of.js";
import { type SagaReport, StepStatus } from "./report.js";
import { createRunner } from "./runner.js";
import type { WriteStore } from "./store.js";

/**
 * Who can see the saga the writes ran as: nobody but this call (runAtomic's own log), this
 * process (a memory log the caller gave), or any process (a durable log).
 */
type Visibility = "private" | "process" | "durable";

/** The errors a run may end with that carry the saga's report. */
type ReportedError = Extract<SagaError, { readonly report: SagaReport }>;

/**
 * Runs the writes one by one as a saga (see `atomicSaga`), and turns how it ended into runAtomic's
 * result: a report, or an error that says exactly which writes are applied.
 */
export async function viaSequence<H, W, R>(
  store: WriteStore<H, W, R>,
  writes: readonly AtomicWrite<H, W, R>[],
  clock: Clock,
  timeoutMs: number,
  options: RunAtomicOptions,
): Promise<Result<AtomicReport<R>, AtomicError>> {
  const { saga, trace } = sequenceSaga(store, writes, timeoutMs);
  const runner =
    options.runner ??
    createRunner({ clock, timeoutMs, ...(options.log === undefined ? {} : { log: options.log }) });
  const visibility: Visibility =
    options.runner === undefined && options.log === undefined
      ? "private"
      : runner.log.durable === false
        ? "process"
        : "durable";
  const run = await runner.run(
    saga,
    null,
    options.signal === undefined ? {} : { signal: options.signal },
  );
  if (run.isOk()) {
    const results = writes.map((_, i) => trace.results.get(i) as R);
    return ok({ store: store.id, strategy: "sequential", results });
  }
  const error = run.error;
  if (!("report" in error)) {
    // The log failed or the saga was taken over: what landed is not known here.
    const index = "step" in error ? positionOf(String(error.step)) : 0;
    return err(failed(store.id, index, nameAt(writes, index), ErrorKind.Unknown, error));
  }
  return err(new Outcome(store.id, writes, trace, error, visibility, options).error());
}

/** The position a generated step's name (`<position>:<write name>`) starts with. */
function positionOf(step: string): number {
  const index = Number.parseInt(step, 10);
  return Number.isNaN(index) ? 0 : index;
}

/** How a failed run left each write, and the error that tells it. */
class Outcome<H, W, R> {
  /** Writes still applied. */
  readonly #applied: number[] = [];
  /** Writes whose outcome, or whose undo's, is unknown. */
  readonly #unknown: number[] = [];
  /** The write that failed, if one did. */
  readonly #failedAt: number;

  constructor(
    readonly store: string,
    readonly writes: readonly AtomicWrite<H, W, R>[],
    readonly trace: AtomicTrace<R>,
    readonly run: ReportedError,
    readonly visibility: Visibility,
    readonly options: RunAtomicOptions,
  ) {
    run.report.steps.forEach((step, i) => {
      const committed = step.status === StepStatus.Committed;
      if (step.status === StepStatus.Unknown || (committed && this.#undoUnknown(i))) {
        this.#unknown.push(i);
      } else if (committed) this.#applied.push(i);
    });
    this.#failedAt = run.report.steps.findIndex((s) => s.status === StepStatus.NotCommitted);
  }

  error(): AtomicError {
    const run = this.run;
    if (run.code === ErrorCode.InDoubt) return this.#inDoubt(run);
    if (this.#applied.length > 0 || this.#unknown.length > 0) return this.#partial();
    // Every undo landed: nothing of the work remains applied.
    if (run.code === ErrorCode.Cancelled) return run;
    const index = run.code === ErrorCode.StepFailed ? positionOf(run.step) : this.#failedAt;
    const at = Math.max(0, index);
    const cause = run.code === ErrorCode.StepFailed ? run.cause : run;
    const lost = findGuardLost(cause);
    if (lost !== undefined) {
      return conflict(this.store, lost.index, nameAt(this.writes, lost.index), "sequential");
    }
    const kind = run.code === ErrorCode.StepFailed ? run.kind : ErrorKind.Unknown;
    return failed(this.store, at, nameAt(this.writes, at), kind, cause, true);
  }

  #inDoubt(run: Extract<ReportedError, { code: typeof ErrorCode.InDoubt }>): AtomicError {
    const at = positionOf(run.step);
    const step = run.report.steps[at];
    const failure = step?.error === undefined ? "" : ` (${step.error.kind}: ${step.error.message})`;
    const why = this.trace.probeReasons.get(at) ?? "it could not tell";
    const unknown = this.#list(this.#unknown);
    const state =
      this.#applied.length === 0
        ? `Nothing else of the work is applied, and the outcome of ${unknown} is unknown.`
        : `The work is partly applied: ${this.#list(this.#applied)} ${this.#verb(this.#applied, "is", "are")} applied, and the outcome of ${unknown} is unknown.`;
    const recovery =
      this.visibility === "private"
        ? `Saga "${run.sagaId}" lives in runAtomic's own in-memory log, where no recoverer can see it: check the store for ${unknown} yourself, or pass runAtomic a \`log\` so that a recoverer given \`atomicSaga(store, writes)\` can probe it again.`
        : `Saga "${run.sagaId}" is parked in_doubt in the ${this.#where()}, where a recoverer given \`atomicSaga(store, writes)\` can probe it again${this.#caveat()}.`;
    return lockstepError({
      code: ErrorCode.InDoubt,
      message: `The outcome of ${this.#label(at)} on store "${this.store}" is unknown: it failed${failure} and its probe could not tell (${why}). ${state} ${recovery}`,
      sagaId: run.sagaId,
      step: run.step,
      report: run.report,
    });
  }

  #partial(): AtomicError {
    const run = this.run;
    const { reason, at: undoAt } = this.#why();
    const failedAt = this.#failedAt;
    const failing = failedAt >= 0 ? failedAt : (this.#applied[0] ?? this.#unknown[0] ?? 0);
    const stepError = failedAt >= 0 ? run.report.steps[failedAt]?.error : undefined;
    const kind = stepError?.kind ?? ErrorKind.Unknown;
    const cause =
      run.code === ErrorCode.StepFailed && failedAt >= 0 && positionOf(run.step) === failedAt
        ? run.cause
        : (stepError ?? run);
    const failure =
      failedAt >= 0
        ? `${capitalized(this.#label(failedAt))} on store "${this.store}" failed (${kind}): ${stepError?.message ?? messageOf(cause)}.`
        : this.options.signal?.aborted
          ? `The work on store "${this.store}" was cancelled.`
          : `The work on store "${this.store}" stopped before its last write: ${run.message}`;
    const undoError = this.trace.unanswered.has(undoAt)
      ? "its last attempt did not answer within its deadline and may still land."
      : messageOf(this.trace.undoErrors.get(undoAt));
    const undo = {
      compensation_failed: `The undo of ${this.#label(undoAt)} then failed on every attempt of the retry policy, the last with: ${undoError}.`,
      guard_lost: `The undo of ${this.#label(undoAt)} found its target changed by another writer and undid nothing.`,
      outcome_unknown: `Whether the undo of ${this.#label(undoAt)} landed cannot be checked: ${undoError}`,
    }[reason];
    const left = [...this.#applied, ...this.#unknown].sort((a, b) => a - b);
    const state =
      this.#applied.length === 0
        ? `The work may be partly applied (saga "${run.sagaId}"): whether ${this.#list(this.#unknown)} ${this.#verb(this.#unknown, "is", "are")} undone is unknown.`
        : `The work is partly applied (saga "${run.sagaId}"): ${this.#list(this.#applied)} ${this.#verb(this.#applied, "is", "are")} not undone${this.#unknown.length === 0 ? "" : `, and whether ${this.#list(this.#unknown)} ${this.#verb(this.#unknown, "is", "are")} undone is unknown`}.`;
    const recoverable = this.visibility !== "private" && reason !== "guard_lost";
    const recovery =
      reason === "guard_lost"
        ? "No recoverer undoes a write another writer changed since: decide by hand whether it should be."
        : recoverable
          ? `The saga stays ${run.report.status} in the ${this.#where()}, where a recoverer given \`atomicSaga(store, writes)\` can finish the undo${this.#caveat()}.`
          : `The saga lives in runAtomic's own in-memory log, where no recoverer can see it: undo ${this.#list(left)} yourself, or pass runAtomic a \`log\` so that a recoverer given \`atomicSaga(store, writes)\` can finish it.`;
    return lockstepError({
      code: ErrorCode.PartiallyApplied,
      message: `${failure} ${undo} ${state} ${recovery}`,
      store: this.store,
      reason,
      applied: this.#applied.map((i) => nameAt(this.writes, i)),
      unknown: this.#unknown.map((i) => nameAt(this.writes, i)),
      index: failing,
      write: nameAt(this.writes, failing),
      kind,
      cause,
      sagaId: run.sagaId,
      report: run.report,
      recoverable,
    });
  }

  /** Why the work stayed partly applied, and the write whose undo says so. */
  #why(): { reason: PartialReason; at: number } {
    const run = this.run;
    if (run.code === ErrorCode.NeedsAttention && run.reason === AttentionReason.GuardFailed) {
      return { reason: "guard_lost", at: positionOf(run.step) };
    }
    // Undos run in reverse, so the one that gave up is the last write left.
    const at = Math.max(...this.#applied, ...this.#unknown);
    return { reason: this.#undoUnknown(at) ? "outcome_unknown" : "compensation_failed", at };
  }

  /** Whether the last undo of write `index` may have landed without anyone seeing it. */
  #undoUnknown(index: number): boolean {
    return this.trace.uncertain.has(index) || this.trace.unanswered.has(index);
  }

  #where(): string {
    return this.visibility === "process" ? "given in-memory saga log" : "saga log";
  }

  #caveat(): string {
    return this.visibility === "process" ? " (in this process only: a crash loses it)" : "";
  }

  #label(index: number): string {
    return `write "${nameAt(this.writes, index)}" (#${index})`;
  }

  #list(indexes: readonly number[]): string {
    const labels = indexes.map((i) => this.#label(i));
    return labels.length <= 1
      ? (labels[0] ?? "no write")
      : `${labels.slice(0, -1).join(", ")} and ${labels[labels.length - 1]}`;
  }

  #verb(indexes: readonly number[], one: string, many: string): string {
    return indexes.length === 1 ? one : many;
  }
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
