import { applyChange } from "../log/log-rules.js";
import {
  EntryType,
  type NewStepEntry,
  type SagaRecord,
  type SagaSnapshot,
  SagaStatus,
  type StepEntry,
} from "../log/records.js";
import { type SagaChange, type SagaLog, SagaLogError } from "../log/saga-log.js";
import { type Clock, sleep } from "./clock.js";
import { type CallOutcome, callWithDeadline } from "./deadline.js";
import { classifyError, ErrorKind, isProvablyNotApplied, StoreError } from "./error-kinds.js";
import { AttentionReason, ErrorCode, lockstepError, type SagaError } from "./errors.js";
import type { EventListener, Logger, SagaEvent } from "./events.js";
import { stepKey } from "./ids.js";
import { messageOf } from "./message-of.js";
import { type SagaReport, type StepReport, StepStatus } from "./report.js";
import { backoffDelay, type RetryPolicy, resolveRetry } from "./retry.js";
import type { Saga } from "./saga.js";
import { EscalationError, type StepContext, type StepDefinition, StepKind } from "./step.js";
import { isCoCommitted } from "./store.js";

/** Everything an execution needs from its runner. */
export interface ExecutionEnv {
  readonly log: SagaLog;
  readonly clock: Clock;
  readonly owner: string;
  readonly leaseTtlMs: number;
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  readonly random: () => number;
  readonly onEvent: EventListener | undefined;
  readonly logger: Logger | undefined;
}

interface StepState {
  status: StepStatus;
  attempts: number;
  /** Whether any intent was recorded, i.e. execute may have started. */
  executed: boolean;
  raw: unknown;
  output: unknown;
  via: "execute" | "probe" | undefined;
  error: { kind: ErrorKind; message: string } | undefined;
  /** Whether the step's writes commit in one transaction with its log records. */
  coCommitted: boolean;
}

/** How an attempt ended; `at` names the failing step of a co-committed group. */
type AttemptResult = (
  | { readonly type: "committed" }
  | { readonly type: "not_committed"; readonly kind: ErrorKind; readonly error: unknown }
  | { readonly type: "in_doubt" }
  | { readonly type: "cancelled"; readonly reason: unknown }
  | { readonly type: "invalid_output"; readonly message: string }
  | { readonly type: "escalated"; readonly message: string }
) & { readonly at?: number };

type ProbeOutcome =
  | { readonly status: "committed"; readonly raw: unknown; readonly output: unknown }
  | { readonly status: "not_committed" }
  | { readonly status: "unknown" }
  | { readonly status: "invalid"; readonly message: string };

/** The result of driving a saga: its report, or the error it ended with. */
export type DriveResult =
  | { readonly ok: true; readonly report: SagaReport }
  | { readonly ok: false; readonly error: SagaError };

/** A saga event without the fields every event shares. */
type EventBody = SagaEvent extends infer E
  ? E extends SagaEvent
    ? Omit<E, "sagaId" | "saga" | "at">
    : never
  : never;

/** Raised internally when the log refuses a write because another runner owns the saga. */
class LeaseLost extends Error {}

/** Raised internally when creating the saga's record finds one with its id already there. */
class SagaExists extends Error {}

/**
 * How a new execution's saga stands in the log: created (and whether the first step's first intent
 * went with it), or not yet, because its first steps co-commit and their transaction creates it.
 */
export type Creation =
  | { readonly created: true; readonly firstIntentRecorded: boolean }
  | { readonly created: false; readonly record: SagaRecord };

/**
 * Drives one saga instance: forward through its steps, compensating in reverse when a step before
 * the point of no return fails, and recording every move in the log before it is made.
 */
export class Execution {
  readonly #env: ExecutionEnv;
  readonly #saga: Saga;
  readonly #sagaId: string;
  readonly #input: unknown;
  readonly #states: StepState[];
  readonly #policies: RetryPolicy[];
  #token: number;
  #leaseExpiresAt: number;
  /** Set by the heartbeat when a renewal is refused: another runner owns the saga now. */
  #leaseLost = false;
  #status: SagaStatus;
  #attention: SagaReport["attention"];
  /** Whether step 0's first intent was written with the saga record. */
  #firstIntentRecorded: boolean;
  /** The saga's record while it is not in the log yet; the first log write creates it. */
  #draft: SagaRecord | undefined;
  /** Set when creating the record found another saga with this id, created meanwhile. */
  #lostCreation = false;
  /** Entries not yet durable; they ride along with the next log write. */
  #pending: NewStepEntry[] = [];

  constructor(
    env: ExecutionEnv,
    saga: Saga,
    sagaId: string,
    input: unknown,
    token: number,
    status: SagaStatus,
    entries: readonly StepEntry[] = [],
    creation: Creation = { created: true, firstIntentRecorded: false },
  ) {
    this.#env = env;
    this.#saga = saga;
    this.#sagaId = sagaId;
    this.#input = input;
    this.#token = token;
    this.#status = status;
    this.#firstIntentRecorded = creation.created && creation.firstIntentRecorded;
    this.#draft = creation.created ? undefined : creation.record;
    this.#leaseExpiresAt = env.clock.now() + env.leaseTtlMs;
    this.#policies = saga.steps.map((s) =>
      resolveRetry(`step "${s.name}": retry`, s.retry, env.retry),
    );
    this.#states = saga.steps.map(() => ({
      status: StepStatus.Skipped,
      attempts: 0,
      executed: false,
      raw: undefined,
      output: undefined,
      via: undefined,
      error: undefined,
      coCommitted: false,
    }));
    this.#replay(entries);
  }

  /** The current report. */
  report(): SagaReport {
    const outputs: Record<string, unknown> = {};
    const steps: StepReport[] = this.#saga.steps.map((step, i) => {
      const st = this.#states[i] as StepState;
      if (st.status === StepStatus.Committed) outputs[step.name] = st.output;
      return {
        name: step.name,
        kind: step.kind,
        store: step.store.id,
        status: st.status,
        strategy: st.coCommitted ? "co_committed" : "saga",
        attempts: st.attempts,
        ...(st.via === undefined || st.status !== StepStatus.Committed
          ? {}
          : { committedVia: st.via }),
        ...(st.error === undefined ? {} : { error: st.error }),
      };
    });
    return {
      sagaId: this.#sagaId,
      saga: this.#saga.name,
      status: this.#status,
      steps,
      outputs,
      ...(this.#attention === undefined ? {} : { attention: this.#attention }),
    };
  }

  /** Runs the saga forward from its first unfinished step. */
  async forward(signal: AbortSignal | undefined): Promise<DriveResult> {
    return this.#guard(() => this.#forwardLoop(signal));
  }

  async #forwardLoop(signal: AbortSignal | undefined): Promise<DriveResult> {
    for (let i = 0; i < this.#saga.steps.length; i++) {
      const st = this.#states[i] as StepState;
      if (st.status === StepStatus.Committed) continue;
      if (signal?.aborted) return this.#cancel(i, signal.reason);
      if (st.status === StepStatus.Unknown) {
        const resolved = await this.#resolveUnknown(i);
        if (resolved.type === "invalid_output") return this.#invalidOutput(i, resolved.message);
        if (resolved.type === "in_doubt") return this.#park(i, SagaStatus.InDoubt);
        if (resolved.type === "committed") continue;
      }
      const end = this.#coCommitGroup(i);
      const result =
        end === undefined
          ? await this.#attempt(i, signal)
          : await this.#attemptGroup(i, end, signal);
      if (result.type === "committed") {
        if (end !== undefined) i = end - 1;
        continue;
      }
      const at = result.at ?? i;
      if (result.type === "invalid_output") return this.#invalidOutput(at, result.message);
      if (result.type === "escalated")
        return this.#needsAttention(at, AttentionReason.Escalated, result.message);
      if (result.type === "cancelled") return this.#cancel(at, result.reason);
      if (result.type === "in_doubt") return this.#park(at, SagaStatus.InDoubt);
      if (at >= this.#saga.forwardFrom) return this.#park(at, SagaStatus.Running);
      if (this.#saga.recovery === "roll_forward" && !isDefinitiveRefusal(result.kind)) {
        return this.#park(at, SagaStatus.Running);
      }
      return this.#compensateAll(() => this.#stepFailed(at, result.kind, result.error));
    }
    // A co-committed group that ends the saga completes it in its own transaction.
    if (this.#status !== SagaStatus.Completed) {
      await this.#write({ status: SagaStatus.Completed, releaseLease: true });
    }
    return { ok: true, report: this.report() };
  }

  /** Compensates every committed step in reverse, as recovery does for a saga before its pivot. */
  async compensate(failure: () => SagaError): Promise<DriveResult> {
    return this.#guard(() => this.#compensateAll(failure));
  }

  /**
   * Continues a saga rebuilt from the log because its caller submitted it again: a compensating saga
   * keeps compensating; any other moves forward, settling unknown steps by their probes first.
   */
  async resume(signal: AbortSignal | undefined): Promise<DriveResult> {
    return this.#guard(() =>
      this.#status === SagaStatus.Compensating
        ? this.#compensateAll(() => this.#interrupted())
        : this.#forwardLoop(signal),
    );
  }

  /** The error of a saga that was unwound before its pivot, for a caller asking after it again. */
  interruptedError(): SagaError {
    return this.#interrupted();
  }

  /** The error of a saga that was unwound because it was interrupted before its pivot. */
  #interrupted(): SagaError {
    const failed = this.#states.findIndex((s) => s.status === StepStatus.NotCommitted);
    const at = failed >= 0 ? failed : Math.min(this.nextStep, this.#saga.steps.length - 1);
    const st = this.#states[at] as StepState;
    return {
      code: ErrorCode.StepFailed,
      message: `Saga "${this.#sagaId}" did not reach its point of no return (step "${(this.#saga.steps[at] as StepDefinition).name}") and has been compensated.`,
      sagaId: this.#sagaId,
      step: (this.#saga.steps[at] as StepDefinition).name,
      kind: st.error?.kind ?? ErrorKind.Unknown,
      cause: st.error,
      report: this.report(),
    };
  }

  /**
   * Finishes a saga rebuilt from the log: a compensating saga keeps compensating; otherwise the
   * pivot's outcome is settled by its probe first, then the saga rolls forward if the pivot
   * committed and is compensated if it did not.
   */
  async recover(): Promise<DriveResult> {
    return this.#guard(async () => {
      const failure = () => this.#interrupted();
      if (this.#status === SagaStatus.Compensating) return this.#compensateAll(failure);
      const pivot = this.#saga.forwardFrom - 1;
      if (pivot >= 0 && (this.#states[pivot] as StepState).status === StepStatus.Unknown) {
        const resolved = await this.#resolveUnknown(pivot);
        if (resolved.type === "invalid_output") return this.#invalidOutput(pivot, resolved.message);
        if (resolved.type === "in_doubt") return this.#park(pivot, SagaStatus.InDoubt);
      }
      if (this.pastPivot || this.#saga.recovery === "roll_forward")
        return this.#forwardLoop(undefined);
      return this.#compensateAll(failure);
    });
  }

  /** Whether the pivot (or, without one, the last compensatable step) has committed. */
  get pastPivot(): boolean {
    const from = this.#saga.forwardFrom;
    if (from === 0) return true;
    return (this.#states[from - 1] as StepState).status === StepStatus.Committed;
  }

  /**
   * Whether this execution stopped because a saga with its id was created meanwhile (the same id
   * submitted twice at once): nothing of this execution is durable, and the caller should treat
   * the run as a resubmission of that saga.
   */
  get lostCreation(): boolean {
    return this.#lostCreation;
  }

  /** The index of the first step that is not committed, or the step count. */
  get nextStep(): number {
    const i = this.#states.findIndex((s) => s.status !== StepStatus.Committed);
    return i === -1 ? this.#states.length : i;
  }

  async #guard(body: () => Promise<DriveResult>): Promise<DriveResult> {
    const stopHeartbeat = this.#heartbeat();
    try {
      return await body();
    } catch (error) {
      if (error instanceof SagaExists) {
        this.#lostCreation = true;
        return this.#fail({
          code: ErrorCode.SagaExists,
          message: `A saga with id "${this.#sagaId}" was created by another run while this one was starting; this run wrote nothing.`,
          sagaId: this.#sagaId,
        });
      }
      if (error instanceof LeaseLost) {
        this.#emit({ type: "saga.lease_lost" });
        return this.#fail({
          code: ErrorCode.LeaseLost,
          message: `Saga "${this.#sagaId}" was taken over by another runner after this runner's lease expired; this runner stopped writing.`,
          sagaId: this.#sagaId,
        });
      }
      return this.#fail({
        code: ErrorCode.LogFailed,
        message: `The saga log failed while running saga "${this.#sagaId}": ${messageOf(error)}. Recovery will resume it once its lease expires.`,
        sagaId: this.#sagaId,
        cause: error,
      });
    } finally {
      stopHeartbeat();
    }
  }

  /**
   * Renews the lease every third of its time-to-live while this execution drives the saga, so a step
   * that runs longer than the lease does not lose it. A refused renewal means another runner owns the
   * saga: the next log write stops this one.
   */
  #heartbeat(): () => void {
    const { clock, log, leaseTtlMs } = this.#env;
    const every = Math.max(1, Math.floor(leaseTtlMs / 3));
    let stopped = false;
    let cancel = () => {};
    const tick = () => {
      if (stopped) return;
      if (this.#draft !== undefined) {
        // Nothing to renew before the saga's record exists; its creation sets the lease.
        cancel = clock.setTimer(tick, every);
        return;
      }
      const now = clock.now();
      log.renewLease(this.#sagaId, this.#token, leaseTtlMs, now).then(
        (renewed) => {
          if (renewed) this.#leaseExpiresAt = Math.max(this.#leaseExpiresAt, now + leaseTtlMs);
          else if (!stopped) this.#leaseLost = true;
          if (!stopped) cancel = clock.setTimer(tick, every);
        },
        () => {
          // A failed renewal is tried again at the next beat; if the log stays down the lease lapses.
          if (!stopped) cancel = clock.setTimer(tick, every);
        },
      );
    };
    cancel = clock.setTimer(tick, every);
    return () => {
      stopped = true;
      cancel();
    };
  }

  #fail(error: SagaError): DriveResult {
    return { ok: false, error: lockstepError(error) };
  }

  async #attempt(i: number, signal: AbortSignal | undefined): Promise<AttemptResult> {
    const step = this.#saga.steps[i] as StepDefinition;
    const st = this.#states[i] as StepState;
    const policy = this.#policies[i] as RetryPolicy;
    for (;;) {
      const attempt = st.attempts + 1;
      // Write-ahead: the intent (with this attempt and the fencing token) is durable before execute.
      // The first step's first intent may already be, written with the saga's creation.
      if (this.#firstIntentRecorded && i === 0 && attempt === 1 && this.#pending.length === 0) {
        this.#firstIntentRecorded = false;
      } else if (rerunByKey(step)) {
        // Recovery would execute this step again by its key whether or not an intent without an
        // outcome were durable, so the intent rides with the outcome instead of costing a write.
        this.#pending.push(this.#entry(step, EntryType.Intent, attempt));
      } else {
        await this.#write({ entries: [this.#entry(step, EntryType.Intent, attempt)] });
      }
      st.attempts = attempt;
      st.executed = true;
      this.#emit({ type: "step.started", step: step.name, attempt });
      const outcome = await callWithDeadline(
        this.#env.clock,
        step.timeoutMs ?? this.#env.timeoutMs,
        signal,
        (scope) => step.execute(this.#context(i, attempt, scope)),
      );
      let kind: ErrorKind;
      let error: unknown;
      if (outcome.status === "ok") {
        const parsed = step.output.safeParse(outcome.value);
        if (!parsed.success) return { type: "invalid_output", message: zodMessage(parsed.error) };
        this.#commit(i, attempt, outcome.value, parsed.data, "execute");
        return { type: "committed" };
      }
      ({ kind, error } = this.#failureOf(step, outcome));
      const escalation = outcome.status === "error" ? findEscalation(outcome.error) : undefined;
      if (escalation !== undefined) {
        this.#notCommitted(i, attempt, ErrorKind.NotCommitted, escalation);
        return { type: "escalated", message: escalation.message };
      }
      if (isProvablyNotApplied(kind)) {
        this.#notCommitted(i, attempt, kind, error);
      } else {
        st.status = StepStatus.Unknown;
        st.error = { kind, message: messageOf(error) };
        this.#pending.push(this.#entry(step, EntryType.Unknown, attempt, { error: st.error }));
        this.#emit({ type: "step.unknown", step: step.name, attempt, kind });
        const probe = await this.#probe(i, attempt);
        if (probe.status === "invalid") return { type: "invalid_output", message: probe.message };
        if (probe.status === "committed") {
          this.#commit(i, attempt, probe.raw, probe.output, "probe");
          return { type: "committed" };
        }
        if (probe.status === "not_committed") {
          this.#notCommitted(i, attempt, kind, error);
        } else if (
          step.probe !== undefined ||
          attempt >= policy.attempts ||
          !policy.retryOn.includes(kind)
        ) {
          return { type: "in_doubt" };
        }
        // A retriable step without a probe is re-executed with the same key: it is idempotent by it.
      }
      if (signal?.aborted) return { type: "cancelled", reason: signal.reason };
      if (attempt >= policy.attempts || !policy.retryOn.includes(kind)) {
        return { type: "not_committed", kind, error };
      }
      const delayMs = backoffDelay(policy, attempt, this.#env.random);
      this.#emit({ type: "step.retrying", step: step.name, attempt, delayMs });
      try {
        await sleep(this.#env.clock, delayMs, signal);
      } catch {
        return { type: "cancelled", reason: signal?.reason };
      }
    }
  }

  /**
   * The end (exclusive) of the run of steps from `i` that can commit together with their log
   * records: consecutive, not yet committed, all on the transactional store the log lives in.
   */
  #coCommitGroup(i: number): number | undefined {
    const coCommit = this.#env.log.coCommit;
    if (coCommit === undefined) return undefined;
    let end = i;
    while (end < this.#saga.steps.length) {
      const step = this.#saga.steps[end] as StepDefinition;
      const st = this.#states[end] as StepState;
      const eligible =
        isCoCommitted(step.store, coCommit.storeId) &&
        (st.status === StepStatus.Skipped || st.status === StepStatus.NotCommitted);
      if (!eligible) break;
      end++;
    }
    return end > i ? end : undefined;
  }

  /**
   * Runs steps `from`..`end` and their log records in one transaction of the log's own store: they
   * commit together or not at all, so they have no in-doubt window. If the commit's outcome is lost,
   * the log itself, written in that same transaction, says whether it happened.
   */
  async #attemptGroup(
    from: number,
    end: number,
    signal: AbortSignal | undefined,
  ): Promise<AttemptResult> {
    const coCommit = this.#env.log.coCommit as NonNullable<SagaLog["coCommit"]>;
    const first = this.#saga.steps[from] as StepDefinition;
    const transaction = first.store.transaction as NonNullable<
      StepDefinition["store"]["transaction"]
    >;
    const steps = this.#saga.steps.slice(from, end);
    const timeoutMs = steps.reduce((sum, step) => sum + (step.timeoutMs ?? this.#env.timeoutMs), 0);
    for (;;) {
      await this.#renewLease();
      const attempts = steps.map((_, k) => (this.#states[from + k] as StepState).attempts + 1);
      const outputs: { raw: unknown; output: unknown }[] = [];
      const committed: NewStepEntry[] = [];
      // A group that reaches the last step completes the saga in the same commit.
      const finish: Omit<SagaChange, "now"> =
        end === this.#saga.steps.length ? { status: SagaStatus.Completed, releaseLease: true } : {};
      const draft = this.#draft;
      let running = from;
      let invalid: { at: number; message: string } | undefined;
      const carried = this.#pending;
      const outcome = await callWithDeadline(this.#env.clock, timeoutMs, signal, (scope) =>
        transaction(async (tx) => {
          // The store may rerun the work (a serialization retry): start each run from scratch.
          outputs.length = 0;
          committed.length = 0;
          invalid = undefined;
          // No intents: nothing in the transaction is durable before its commit, which records
          // each step's outcome with the step's own writes.
          for (let k = 0; k < steps.length; k++) {
            const step = steps[k] as StepDefinition;
            const attempt = attempts[k] as number;
            running = from + k;
            this.#emit({ type: "step.started", step: step.name, attempt });
            const earlier = Object.fromEntries(
              outputs.map((o, n) => [(steps[n] as StepDefinition).name, o.output]),
            );
            const raw = await step.execute({
              ...this.#context(from + k, attempt, scope, earlier),
              handle: tx,
            });
            const parsed = step.output.safeParse(raw);
            if (!parsed.success) {
              invalid = { at: from + k, message: zodMessage(parsed.error) };
              throw new StoreError(
                "not_committed",
                `The output of step "${step.name}" failed its schema.`,
              );
            }
            outputs.push({ raw, output: parsed.data });
            committed.push(
              this.#entry(step, EntryType.Committed, attempt, { output: raw, via: "co_commit" }),
            );
          }
          // One log write for the whole group, checked against the fencing token (or, for a saga
          // not created yet, against an existing id) at the end: a refusal rolls everything back.
          const entries = [...carried, ...committed];
          const now = this.#env.clock.now();
          if (draft === undefined) {
            await coCommit.write(tx, this.#sagaId, this.#token, { ...finish, entries, now });
          } else {
            await coCommit.create(tx, this.#draftRecord(draft, finish, now), entries);
          }
        }, scope),
      );
      if (invalid !== undefined) {
        const { at, message } = invalid;
        return { type: "invalid_output", message, at };
      }
      if (
        outcome.status === "error" &&
        draft !== undefined &&
        findLogFailure(outcome.error, "exists")
      ) {
        throw new SagaExists();
      }
      if (outcome.status === "error" && findLogFailure(outcome.error, "stale_token")) {
        throw new LeaseLost();
      }
      const escalation = outcome.status === "error" ? findEscalation(outcome.error) : undefined;
      const failure =
        outcome.status === "ok"
          ? undefined
          : this.#failureOf(this.#saga.steps[running] as StepDefinition, outcome);
      let landed = failure === undefined;
      let read: { readonly snapshot: SagaSnapshot | undefined } | undefined;
      if (failure !== undefined && !isProvablyNotApplied(failure.kind)) {
        // The commit's fate is unknown; the log, written in that transaction, is the authority.
        read = await this.#readBack();
        if (read === undefined) return { type: "in_doubt", at: running };
        landed = groupCommitted(
          read.snapshot,
          steps[steps.length - 1] as StepDefinition,
          attempts[attempts.length - 1] as number,
        );
      }
      // A run of a saga id that exists (submitted twice) fails on its rows or on the record.
      if (!landed && draft !== undefined) {
        read ??= await this.#readBack();
        if (read?.snapshot !== undefined) throw new SagaExists();
      }
      if (landed) {
        this.#pending = [];
        this.#draft = undefined;
        steps.forEach((step, k) => {
          const st = this.#states[from + k] as StepState;
          const { raw, output } = outputs[k] as { raw: unknown; output: unknown };
          Object.assign(st, {
            status: StepStatus.Committed,
            attempts: attempts[k],
            executed: true,
            raw,
            output,
            via: "execute",
            error: undefined,
            coCommitted: true,
          });
          this.#emit({
            type: "step.committed",
            step: step.name,
            attempt: attempts[k] as number,
            via: "execute",
          });
        });
        this.#statusChanged(finish);
        return { type: "committed" };
      }
      // Rolled back: nothing of the group is durable, so its intents are recorded with the outcome.
      const { kind, error } = failure as { kind: ErrorKind; error: unknown };
      for (let k = 0; k <= running - from; k++) {
        const step = steps[k] as StepDefinition;
        const st = this.#states[from + k] as StepState;
        st.attempts = attempts[k] as number;
        st.executed = true;
        st.coCommitted = true;
        this.#pending.push(this.#entry(step, EntryType.Intent, st.attempts));
        this.#notCommitted(from + k, st.attempts, kind, from + k === running ? error : undefined);
      }
      if (escalation !== undefined)
        return { type: "escalated", message: escalation.message, at: running };
      const policy = this.#policies[running] as RetryPolicy;
      const attempt = (this.#states[running] as StepState).attempts;
      if (signal?.aborted) return { type: "cancelled", reason: signal.reason, at: running };
      if (attempt >= policy.attempts || !policy.retryOn.includes(kind)) {
        return { type: "not_committed", kind, error, at: running };
      }
      const delayMs = backoffDelay(policy, attempt, this.#env.random);
      this.#emit({
        type: "step.retrying",
        step: (steps[running - from] as StepDefinition).name,
        attempt,
        delayMs,
      });
      try {
        await sleep(this.#env.clock, delayMs, signal);
      } catch {
        return { type: "cancelled", reason: signal?.reason, at: running };
      }
    }
  }

  /** The saga as the log holds it now, read with a deadline; `undefined` when it cannot be read. */
  async #readBack(): Promise<{ readonly snapshot: SagaSnapshot | undefined } | undefined> {
    try {
      return { snapshot: await this.#logCall(() => this.#env.log.load(this.#sagaId)) };
    } catch {
      return undefined;
    }
  }

  /** Resolves a step left `unknown` (by a crash or an earlier run) before anything else is done. */
  async #resolveUnknown(i: number): Promise<AttemptResult> {
    const step = this.#saga.steps[i] as StepDefinition;
    const st = this.#states[i] as StepState;
    const probe = await this.#probe(i, Math.max(1, st.attempts));
    if (probe.status === "invalid") return { type: "invalid_output", message: probe.message };
    if (probe.status === "committed") {
      this.#commit(i, Math.max(1, st.attempts), probe.raw, probe.output, "probe");
      return { type: "committed" };
    }
    if (probe.status === "not_committed") {
      this.#notCommitted(i, Math.max(1, st.attempts), ErrorKind.Unknown, undefined);
      return { type: "not_committed", kind: ErrorKind.Unknown, error: undefined };
    }
    // Without a probe, a retriable step is re-executed with its key; the caller treats it as not run.
    if (step.probe === undefined && step.kind === StepKind.Retriable) {
      st.status = StepStatus.NotCommitted;
      return { type: "not_committed", kind: ErrorKind.Unknown, error: undefined };
    }
    return { type: "in_doubt" };
  }

  async #probe(i: number, attempt: number): Promise<ProbeOutcome> {
    const step = this.#saga.steps[i] as StepDefinition;
    if (step.probe === undefined) return { status: "unknown" };
    const probe = step.probe;
    const outcome = await callWithDeadline(
      this.#env.clock,
      step.probeTimeoutMs ?? step.timeoutMs ?? this.#env.timeoutMs,
      undefined,
      (scope) => probe(this.#context(i, attempt, scope)),
    );
    let result: ProbeOutcome = { status: "unknown" };
    if (outcome.status === "ok") {
      const value = outcome.value as { status?: unknown; output?: unknown } | undefined;
      if (value?.status === "committed") {
        const parsed = step.output.safeParse(value.output);
        result = parsed.success
          ? { status: "committed", raw: value.output, output: parsed.data }
          : { status: "invalid", message: zodMessage(parsed.error) };
      } else if (value?.status === "not_committed") {
        result = { status: "not_committed" };
      }
    } else if (outcome.status === "error") {
      this.#env.logger?.warn(
        { sagaId: this.#sagaId, step: step.name, error: messageOf(outcome.error) },
        "lockstep: a probe failed; the step stays in doubt",
      );
    }
    this.#emit({
      type: "step.probed",
      step: step.name,
      result: result.status === "invalid" ? "committed" : result.status,
    });
    return result;
  }

  #commit(
    i: number,
    attempt: number,
    raw: unknown,
    output: unknown,
    via: "execute" | "probe",
  ): void {
    const step = this.#saga.steps[i] as StepDefinition;
    const st = this.#states[i] as StepState;
    st.status = StepStatus.Committed;
    st.raw = raw;
    st.output = output;
    st.via = via;
    // A commit found by the probe keeps the error that made the probe necessary, for the report.
    if (via === "execute") st.error = undefined;
    this.#pending.push(this.#entry(step, EntryType.Committed, attempt, { output: raw, via }));
    this.#emit({ type: "step.committed", step: step.name, attempt, via });
  }

  #notCommitted(i: number, attempt: number, kind: ErrorKind, error: unknown): void {
    const step = this.#saga.steps[i] as StepDefinition;
    const st = this.#states[i] as StepState;
    st.status = StepStatus.NotCommitted;
    if (error !== undefined) st.error = { kind, message: messageOf(error) };
    this.#pending.push(
      this.#entry(
        step,
        EntryType.NotCommitted,
        attempt,
        st.error === undefined ? {} : { error: st.error },
      ),
    );
    this.#emit({ type: "step.not_committed", step: step.name, attempt, kind });
  }

  #failureOf(
    step: StepDefinition,
    outcome: CallOutcome<unknown>,
  ): { kind: ErrorKind; error: unknown } {
    if (outcome.status === "error") {
      return { kind: classifyError(outcome.error, step.store.classifyError), error: outcome.error };
    }
    if (outcome.status === "timeout") {
      return {
        kind: ErrorKind.Timeout,
        error: new Error(`Step "${step.name}" did not finish within its deadline.`),
      };
    }
    // Cancelled mid-call: the write may or may not have landed.
    return {
      kind: ErrorKind.Unknown,
      error: new Error(`Step "${step.name}" was cancelled while running.`),
    };
  }

  async #compensateAll(failure: () => SagaError): Promise<DriveResult> {
    if (this.#status !== SagaStatus.Compensating) {
      await this.#write({ status: SagaStatus.Compensating });
    }
    for (let j = this.#saga.steps.length - 1; j >= 0; j--) {
      const step = this.#saga.steps[j] as StepDefinition;
      const st = this.#states[j] as StepState;
      if (st.status === StepStatus.Unknown) {
        const resolved = await this.#resolveUnknown(j);
        if (resolved.type === "in_doubt" || resolved.type === "invalid_output") {
          // Never compensate an unknown step without a probe: leave it for the recoverer.
          await this.#write({ releaseLease: true });
          return this.#fail(
            lockstepError({
              code: ErrorCode.InDoubt,
              message: `Saga "${this.#sagaId}" is compensating but the outcome of step "${step.name}" cannot be determined; the recoverer will probe it again.`,
              sagaId: this.#sagaId,
              step: step.name,
              report: this.report(),
            }),
          );
        }
      }
      if (st.status === StepStatus.Committed && step.kind === StepKind.Compensatable) {
        const done = await this.#runCompensation(j);
        if (done !== undefined) return done;
      } else if (st.executed && st.status === StepStatus.NotCommitted) {
        // Null compensation: the step provably never applied, so undoing it is a recorded no-op.
        this.#pending.push(
          this.#entry(step, EntryType.CompensationSkipped, Math.max(1, st.attempts)),
        );
        this.#emit({
          type: "compensation.finished",
          step: step.name,
          attempt: 0,
          result: "skipped",
        });
      }
    }
    await this.#write({ status: SagaStatus.Compensated, releaseLease: true });
    return this.#fail(failure());
  }

  /** Runs one compensation with its retries; returns a final result only if the saga must stop. */
  async #runCompensation(j: number): Promise<DriveResult | undefined> {
    const step = this.#saga.steps[j] as StepDefinition;
    const st = this.#states[j] as StepState;
    const policy = this.#policies[j] as RetryPolicy;
    const compensate = step.compensate as NonNullable<StepDefinition["compensate"]>;
    for (let attempt = 1; attempt <= policy.attempts; attempt++) {
      await this.#write({ entries: [this.#entry(step, EntryType.CompensationIntent, attempt)] });
      this.#emit({ type: "compensation.started", step: step.name, attempt });
      const outcome = await callWithDeadline(
        this.#env.clock,
        step.timeoutMs ?? this.#env.timeoutMs,
        undefined,
        (scope) =>
          compensate({ ...this.#context(j, Math.max(1, st.attempts), scope), output: st.output }),
      );
      const value =
        outcome.status === "ok"
          ? (outcome.value as { status?: unknown; reason?: unknown })
          : undefined;
      if (value?.status === "compensated") {
        st.status = StepStatus.Compensated;
        this.#pending.push(this.#entry(step, EntryType.Compensated, attempt));
        this.#emit({
          type: "compensation.finished",
          step: step.name,
          attempt,
          result: "compensated",
        });
        return undefined;
      }
      if (value?.status === "guard_failed") {
        const reason = typeof value.reason === "string" ? value.reason : "the guard failed";
        this.#pending.push(
          this.#entry(step, EntryType.GuardFailed, attempt, {
            error: { kind: ErrorKind.Conflict, message: reason },
          }),
        );
        this.#emit({
          type: "compensation.finished",
          step: step.name,
          attempt,
          result: "guard_failed",
        });
        return this.#needsAttention(
          j,
          AttentionReason.GuardFailed,
          `The compensation of step "${step.name}" found state it did not write and undid nothing: ${reason}.`,
        );
      }
      const error =
        outcome.status === "error"
          ? outcome.error
          : outcome.status === "ok"
            ? new Error(
                `The compensation of step "${step.name}" returned ${JSON.stringify(outcome.value)}, not compensated() or guardFailed().`,
              )
            : new Error(
                `The compensation of step "${step.name}" did not finish within its deadline.`,
              );
      const kind =
        outcome.status === "timeout"
          ? ErrorKind.Timeout
          : classifyError(error, step.store.classifyError);
      this.#pending.push(
        this.#entry(step, EntryType.CompensationFailed, attempt, {
          error: { kind, message: messageOf(error) },
        }),
      );
      this.#emit({ type: "compensation.finished", step: step.name, attempt, result: "failed" });
      if (attempt < policy.attempts)
        await sleep(this.#env.clock, backoffDelay(policy, attempt, this.#env.random));
    }
    // Out of attempts: stay compensating, free the lease, and let the recoverer retry later.
    await this.#write({ releaseLease: true });
    return this.#compensationStuck(j);
  }

  #compensationStuck(j: number): DriveResult {
    const step = this.#saga.steps[j] as StepDefinition;
    const failed = this.#saga.steps.findIndex(
      (_, i) => (this.#states[i] as StepState).status === StepStatus.NotCommitted,
    );
    const failedStep = this.#saga.steps[failed] as StepDefinition | undefined;
    const st = failedStep === undefined ? undefined : (this.#states[failed] as StepState);
    return this.#fail({
      code: ErrorCode.StepFailed,
      message: `Step "${failedStep?.name ?? step.name}" of saga "${this.#saga.name}" failed; the compensation of step "${step.name}" has not succeeded yet and the recoverer will retry it.`,
      sagaId: this.#sagaId,
      step: failedStep?.name ?? step.name,
      kind: st?.error?.kind ?? ErrorKind.Unknown,
      cause: st?.error,
      report: this.report(),
    });
  }

  async #needsAttention(i: number, reason: AttentionReason, message: string): Promise<DriveResult> {
    const step = this.#saga.steps[i] as StepDefinition;
    const attention = { reason, step: step.name, message };
    await this.#write({ status: SagaStatus.NeedsAttention, attention, releaseLease: true });
    this.#attention = attention;
    return this.#fail({
      code: ErrorCode.NeedsAttention,
      message: `Saga "${this.#sagaId}" needs attention at step "${step.name}": ${message}`,
      sagaId: this.#sagaId,
      step: step.name,
      reason,
      report: this.report(),
    });
  }

  #invalidOutput(i: number, message: string): Promise<DriveResult> {
    const step = this.#saga.steps[i] as StepDefinition;
    return this.#needsAttention(
      i,
      AttentionReason.InvalidOutput,
      `The output of step "${step.name}" failed its schema (${message}); its write may be in place.`,
    );
  }

  async #park(i: number, status: SagaStatus): Promise<DriveResult> {
    const step = this.#saga.steps[i] as StepDefinition;
    await this.#write({ status, releaseLease: true });
    if (status === SagaStatus.InDoubt) {
      return this.#fail({
        code: ErrorCode.InDoubt,
        message: `The outcome of step "${step.name}" of saga "${this.#sagaId}" cannot be determined; the saga is parked and the recoverer will probe it again.`,
        sagaId: this.#sagaId,
        step: step.name,
        report: this.report(),
      });
    }
    const st = this.#states[i] as StepState;
    return this.#fail({
      code: ErrorCode.Incomplete,
      message: this.pastPivot
        ? `Saga "${this.#sagaId}" is past its point of no return but step "${step.name}" has not committed yet; the recoverer will finish it.`
        : `Saga "${this.#sagaId}" has not finished: step "${step.name}" has not committed yet and the saga rolls forward, so the recoverer will retry it.`,
      sagaId: this.#sagaId,
      step: step.name,
      ...(st.error === undefined ? {} : { cause: st.error }),
      report: this.report(),
    });
  }

  async #cancel(i: number, reason: unknown): Promise<DriveResult> {
    if (this.pastPivot || i >= this.#saga.forwardFrom) return this.#park(i, SagaStatus.Running);
    return this.#compensateAll(() => ({
      code: ErrorCode.Cancelled,
      message: `Saga "${this.#sagaId}" was cancelled; every step it had committed was compensated.`,
      sagaId: this.#sagaId,
      reason,
      report: this.report(),
    }));
  }

  #stepFailed(i: number, kind: ErrorKind, error: unknown): SagaError {
    const step = this.#saga.steps[i] as StepDefinition;
    return {
      code: ErrorCode.StepFailed,
      message: `Step "${step.name}" of saga "${this.#saga.name}" failed (${kind}): ${messageOf(error)}. Every step it had committed was compensated.`,
      sagaId: this.#sagaId,
      step: step.name,
      kind,
      cause: error,
      report: this.report(),
    };
  }

  /** Writes pending entries plus `change` in one log write, renewing the lease when it runs low. */
  async #write(change: Omit<SagaChange, "now">): Promise<void> {
    const now = this.#env.clock.now();
    if (!change.releaseLease) await this.#renewLease();
    const entries = [...this.#pending, ...(change.entries ?? [])];
    const draft = this.#draft;
    try {
      if (draft === undefined) {
        await this.#logCall(() =>
          this.#env.log.write(this.#sagaId, this.#token, { ...change, entries, now }),
        );
      } else {
        // The first co-committed group did not land: the saga's record is created now, with it.
        const record = this.#draftRecord(draft, change, now);
        await this.#logCall(() => this.#env.log.create(record, entries));
        this.#draft = undefined;
      }
    } catch (error) {
      if (SagaLogError.is(error) && error.reason === "stale_token") throw new LeaseLost();
      if (draft !== undefined && SagaLogError.is(error) && error.reason === "exists") {
        throw new SagaExists();
      }
      throw error;
    }
    this.#pending = [];
    this.#statusChanged(change);
  }

  /** The record that creates the saga with `change` applied, leased from `now` unless released. */
  #draftRecord(draft: SagaRecord, change: Omit<SagaChange, "now">, now: number): SagaRecord {
    this.#leaseExpiresAt = now + this.#env.leaseTtlMs;
    return applyChange(
      { ...draft, leaseExpiresAt: this.#leaseExpiresAt, updatedAt: now },
      { ...change, now },
    );
  }

  /** Takes note of a status a log write set, telling listeners. */
  #statusChanged(change: Omit<SagaChange, "now">): void {
    if (change.status !== undefined && change.status !== this.#status) {
      this.#status = change.status;
      this.#emit(
        change.attention === undefined
          ? { type: "saga.status", status: change.status }
          : { type: "saga.status", status: change.status, reason: change.attention.reason },
      );
    }
  }

  /**
   * Calls the log with a deadline, like every other call: a log write that hangs would otherwise
   * hold the saga forever, its lease kept alive by the heartbeat while nothing moves. A write that
   * lands after its deadline is harmless: its fencing token keeps it from overriding a new owner.
   */
  async #logCall<T>(call: () => Promise<T>): Promise<T> {
    const outcome = await callWithDeadline(this.#env.clock, this.#env.timeoutMs, undefined, call);
    if (outcome.status === "ok") return outcome.value;
    if (outcome.status === "error") throw outcome.error;
    throw new SagaLogError(
      "io",
      this.#sagaId,
      `The saga log did not answer within ${this.#env.timeoutMs} ms while running saga "${this.#sagaId}".`,
    );
  }

  /** Extends the lease once half of it has run out; a refused renewal means another runner owns it. */
  async #renewLease(): Promise<void> {
    if (this.#leaseLost) throw new LeaseLost();
    if (this.#draft !== undefined) return;
    const now = this.#env.clock.now();
    if (now < this.#leaseExpiresAt - this.#env.leaseTtlMs / 2) return;
    const renewed = await this.#logCall(() =>
      this.#env.log.renewLease(this.#sagaId, this.#token, this.#env.leaseTtlMs, now),
    );
    if (!renewed) throw new LeaseLost();
    this.#leaseExpiresAt = now + this.#env.leaseTtlMs;
  }

  #entry(
    step: StepDefinition,
    type: EntryType,
    attempt: number,
    extra: Partial<Pick<NewStepEntry, "output" | "error" | "via">> = {},
  ): NewStepEntry {
    return { step: step.name, type, attempt, at: this.#env.clock.now(), ...extra };
  }

  #context(
    i: number,
    attempt: number,
    scope: { signal: AbortSignal; deadline: number },
    pending: Readonly<Record<string, unknown>> = {},
  ): StepContext<unknown, unknown, unknown> {
    const step = this.#saga.steps[i] as StepDefinition;
    // Earlier steps of a co-committed group are not committed until their transaction is: their
    // outputs come in `pending`.
    const outputs: Record<string, unknown> = { ...pending };
    for (let k = 0; k < i; k++) {
      const st = this.#states[k] as StepState;
      if (st.status === StepStatus.Committed || st.status === StepStatus.Compensated) {
        outputs[(this.#saga.steps[k] as StepDefinition).name] = st.output;
      }
    }
    return {
      input: this.#input,
      outputs: Object.freeze(outputs),
      sagaId: this.#sagaId,
      key: stepKey(this.#sagaId, step.name),
      attempt,
      fencingToken: this.#token,
      handle: step.store.handle,
      signal: scope.signal,
      deadline: scope.deadline,
    };
  }

  #emit(event: EventBody): void {
    const listener = this.#env.onEvent;
    if (listener === undefined) return;
    try {
      listener({
        ...event,
        sagaId: this.#sagaId,
        saga: this.#saga.name,
        at: this.#env.clock.now(),
      } as SagaEvent);
    } catch (error) {
      this.#env.logger?.error(
        { sagaId: this.#sagaId, error: messageOf(error) },
        "lockstep: an event listener threw",
      );
    }
  }

  /** Rebuilds step states from the log, for recovery. */
  #replay(entries: readonly StepEntry[]): void {
    const index = new Map(this.#saga.steps.map((s, i) => [s.name, i]));
    for (const entry of entries) {
      const i = index.get(entry.step);
      if (i === undefined) continue;
      const step = this.#saga.steps[i] as StepDefinition;
      const st = this.#states[i] as StepState;
      switch (entry.type) {
        case EntryType.Intent:
          st.attempts = Math.max(st.attempts, entry.attempt);
          st.executed = true;
          st.status = StepStatus.Unknown;
          break;
        case EntryType.Committed: {
          // A co-committed step has no intent: its outcome committed with its writes.
          st.attempts = Math.max(st.attempts, entry.attempt);
          st.executed = true;
          const parsed = step.output.safeParse(entry.output);
          st.status = parsed.success ? StepStatus.Committed : StepStatus.Unknown;
          st.raw = entry.output;
          st.output = parsed.success ? parsed.data : undefined;
          st.via = entry.via === "probe" ? "probe" : "execute";
          st.coCommitted = entry.via === "co_commit";
          break;
        }
        case EntryType.NotCommitted:
          st.status = StepStatus.NotCommitted;
          if (entry.error) st.error = entry.error as StepState["error"];
          break;
        case EntryType.Unknown:
          st.status = StepStatus.Unknown;
          break;
        case EntryType.Compensated:
          st.status = StepStatus.Compensated;
          break;
        default:
          break;
      }
    }
  }
}

/** Whether a co-committed group whose last step is `last` landed, by the log written with it. */
function groupCommitted(
  snapshot: SagaSnapshot | undefined,
  last: StepDefinition,
  attempt: number,
): boolean {
  return (
    snapshot?.entries.some(
      (e) =>
        e.step === last.name &&
        e.type === EntryType.Committed &&
        e.attempt === attempt &&
        e.via === "co_commit",
    ) ?? false
  );
}

/**
 * Whether a step's outcome, if lost in a crash, is settled by executing it again with its key: a
 * retriable step without a probe, or one declared idempotent by its key. Such a step needs no
 * write-ahead intent of its own: a crash before its outcome is durable leads to the same re-run.
 */
function rerunByKey(step: StepDefinition): boolean {
  return step.kind === StepKind.Retriable && (step.idempotent || step.probe === undefined);
}

/** The escalation anywhere in an error's cause chain (a transaction wraps what its work threw). */
function findEscalation(error: unknown): EscalationError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 16 && current !== undefined && current !== null; depth++) {
    if (EscalationError.is(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Whether an error kind says the write will never be accepted as it is, so retrying is pointless. */
function isDefinitiveRefusal(kind: ErrorKind): boolean {
  return kind === ErrorKind.NotCommitted || kind === ErrorKind.Conflict;
}

/** Whether a log error of `reason` is anywhere in an error's cause chain. */
function findLogFailure(error: unknown, reason: SagaLogError["reason"]): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 16 && current !== undefined && current !== null; depth++) {
    if (SagaLogError.is(current) && current.reason === reason) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

function zodMessage(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}): string {
  const issue = error.issues[0];
  if (issue === undefined) return "invalid";
  const path = issue.path.map(String).join(".");
  return path === "" ? issue.message : `\`${path}\`: ${issue.message}`;
}

export { messageOf };
