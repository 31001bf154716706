import { AttentionReason } from "../model/attention-reason.js";
import { SagaStatus } from "../model/records.js";
import { attemptStep } from "./attempt.js";
import { isDefinitiveRefusal } from "./attempt-outcome.js";
import { attemptGroup, coCommitGroup } from "./co-commit.js";
import { compensateAll } from "./compensation.js";
import {
  type DriveResult,
  fail,
  interrupted,
  invalidOutput,
  needsAttention,
  park,
  stepFailed,
} from "./endings.js";
import { ErrorCode, type SagaError } from "./errors.js";
import {
  type ExecutionOptions,
  ExecutionState,
  type StuckCompensation,
} from "./execution-state.js";
import { messageOf } from "./message-of.js";
import { type SagaReport, StepStatus } from "./report.js";
import { LeaseLost, SagaExists } from "./saga-journal.js";
import { settleUnknown } from "./settle.js";

/**
 * Drives one saga instance: forward through its steps, compensating in reverse when a step before
 * the point of no return fails, and recording every move in the log before it is made. The moves
 * themselves live beside it: one step's attempts (`attempt.ts`), a co-committed group's
 * (`co-commit.ts`), settling an unknown outcome by its probe (`settle.ts`), compensating
 * (`compensation.ts`) and how a drive ends (`endings.ts`), all over one {@link ExecutionState},
 * whose journal (`saga-journal.ts`) writes the log and keeps the lease.
 */
export class Execution {
  readonly #state: ExecutionState;
  /** Set when creating the record found another saga with this id, created meanwhile. */
  #lostCreation = false;

  constructor(options: ExecutionOptions) {
    this.#state = new ExecutionState(options);
  }

  /** The current report. */
  report(): SagaReport {
    return this.#state.report();
  }

  /**
   * Whether this execution stopped because a saga with its id was created meanwhile (the same id
   * submitted twice at once): nothing of this execution is durable, and the caller should treat
   * the run as a resubmission of that saga.
   */
  get lostCreation(): boolean {
    return this.#lostCreation;
  }

  /** Runs the saga forward from its first unfinished step. */
  forward(signal: AbortSignal | undefined): Promise<DriveResult> {
    return this.#guard(() => this.#forward(signal));
  }

  /**
   * Continues a saga rebuilt from the log because its caller submitted it again: a compensating saga
   * keeps compensating; any other moves forward, settling unknown steps by their probes first.
   */
  resume(signal: AbortSignal | undefined): Promise<DriveResult> {
    const state = this.#state;
    return this.#guard(() =>
      state.status === SagaStatus.Compensating
        ? compensateAll(state, () => interrupted(state))
        : this.#forward(signal),
    );
  }

  /**
   * Finishes a saga rebuilt from the log: a compensating saga keeps compensating; otherwise the
   * pivot's outcome is settled by its probe first, then the saga rolls forward if the pivot
   * committed and is compensated if it did not.
   */
  recover(): Promise<DriveResult> {
    const state = this.#state;
    return this.#guard(async () => {
      const failure = () => interrupted(state);
      if (state.status === SagaStatus.Compensating) return compensateAll(state, failure);
      const pivot = state.saga.forwardFrom - 1;
      if (pivot >= 0 && state.stateAt(pivot).status === StepStatus.Unknown) {
        const settled = await settleUnknown(state, pivot);
        if (settled.type === "invalid_output") return invalidOutput(state, pivot, settled.message);
        if (settled.type === "in_doubt") return park(state, pivot, SagaStatus.InDoubt);
      }
      if (state.pastPivot || state.saga.recovery === "roll_forward")
        return this.#forward(undefined);
      return compensateAll(state, failure);
    });
  }

  /**
   * The step whose compensation ran out of attempts in this drive, with its last error: the step a
   * person must look at if recovery gives up on the saga. `undefined` when no compensation did.
   */
  get stuckCompensation(): StuckCompensation | undefined {
    return this.#state.stuckCompensation;
  }

  /** The error of a saga that was unwound before its pivot, for a caller asking after it again. */
  interruptedError(): SagaError {
    return interrupted(this.#state);
  }

  async #forward(signal: AbortSignal | undefined): Promise<DriveResult> {
    const state = this.#state;
    for (let i = 0; i < state.steps.length; i++) {
      const st = state.stateAt(i);
      if (st.status === StepStatus.Committed) continue;
      if (signal?.aborted) return this.#cancel(i, signal.reason);
      if (st.status === StepStatus.Unknown) {
        const settled = await settleUnknown(state, i);
        if (settled.type === "invalid_output") return invalidOutput(state, i, settled.message);
        if (settled.type === "in_doubt") return park(state, i, SagaStatus.InDoubt);
        if (settled.type === "committed") continue;
      }
      const end = coCommitGroup(state, i);
      const result =
        end === undefined
          ? await attemptStep(state, i, signal)
          : await attemptGroup(state, i, end, signal);
      if (result.type === "committed") {
        if (end !== undefined) i = end - 1;
        continue;
      }
      const at = result.at ?? i;
      if (result.type === "invalid_output") return invalidOutput(state, at, result.message);
      if (result.type === "escalated") {
        return needsAttention(state, at, AttentionReason.Escalated, result.message);
      }
      if (result.type === "cancelled") return this.#cancel(at, result.reason);
      if (result.type === "in_doubt") return park(state, at, SagaStatus.InDoubt);
      if (at >= state.saga.forwardFrom) return park(state, at, SagaStatus.Running);
      if (state.saga.recovery === "roll_forward" && !isDefinitiveRefusal(result.kind)) {
        return park(state, at, SagaStatus.Running);
      }
      return compensateAll(state, () => stepFailed(state, at, result.kind, result.error));
    }
    // A co-committed group that ends the saga completes it in its own transaction.
    if (state.status !== SagaStatus.Completed) {
      await state.write({ status: SagaStatus.Completed, releaseLease: true });
    }
    return { ok: true, report: state.report() };
  }

  /** Stops a cancelled run at step `i`: compensated before the pivot, parked for recovery after. */
  #cancel(i: number, reason: unknown): Promise<DriveResult> {
    const state = this.#state;
    if (state.pastPivot || i >= state.saga.forwardFrom) return park(state, i, SagaStatus.Running);
    return compensateAll(state, () => ({
      code: ErrorCode.Cancelled,
      message: `Saga "${state.sagaId}" was cancelled; every step it had committed was compensated.`,
      sagaId: state.sagaId,
      reason,
      report: state.report(),
    }));
  }

  /**
   * Runs one drive with the lease's heartbeat, and turns what stops it from outside the saga (its id
   * taken meanwhile, its lease taken over, the log failing) into the error it ends with.
   */
  async #guard(body: () => Promise<DriveResult>): Promise<DriveResult> {
    const state = this.#state;
    const stopHeartbeat = state.journal.heartbeat();
    try {
      return await body();
    } catch (error) {
      if (error instanceof SagaExists) {
        this.#lostCreation = true;
        return fail({
          code: ErrorCode.SagaExists,
          message: `A saga with id "${state.sagaId}" was created by another run while this one was starting; this run wrote nothing.`,
          sagaId: state.sagaId,
        });
      }
      if (error instanceof LeaseLost) {
        state.emit({ type: "saga.lease_lost" });
        return fail({
          code: ErrorCode.LeaseLost,
          message: `Saga "${state.sagaId}" was taken over by another runner after this runner's lease expired; this runner stopped writing.`,
          sagaId: state.sagaId,
        });
      }
      // A saga whose record the log never received (its first steps co-commit, and nothing of
      // them committed) is invisible to every recoverer: promising recovery would be a lie.
      const recorded = state.journal.draft === undefined;
      return fail({
        code: ErrorCode.LogFailed,
        message: recorded
          ? `The saga log failed while running saga "${state.sagaId}": ${messageOf(error)}. Recovery will resume it once its lease expires.`
          : `The saga log failed before saga "${state.sagaId}" was recorded: ${messageOf(error)}. No recoverer can see it, and nothing of its co-committed steps was committed; run it again with the same saga id.`,
        sagaId: state.sagaId,
        cause: error,
      });
    } finally {
      stopHeartbeat();
    }
  }
}
