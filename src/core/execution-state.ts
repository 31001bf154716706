import { replaySteps } from "../log/replay.js";
import type { ErrorKind } from "../model/error-kind.js";
import type { NewOutboxMessage } from "../model/outbox.js";
import { EntryType, type NewStepEntry, SagaStatus, type StepEntry } from "../model/records.js";
import {
  type ResolvedCompensationPolicy,
  resolveCompensationPolicy,
} from "./compensation-policy.js";
import type { SagaEvent } from "./events.js";
import { type ExecutionEnv, emitEvent } from "./execution-env.js";
import { stepKey } from "./ids.js";
import { keyWindowAt } from "./key-window.js";
import { messageOf } from "./message-of.js";
import { type SagaReport, type StepReport, StepStatus } from "./report.js";
import { type RetryPolicy, resolveRetry } from "./retry.js";
import type { Saga } from "./saga.js";
import { type Change, type Creation, LeaseLost, SagaJournal } from "./saga-journal.js";
import type { StepContext, StepDefinition } from "./step.js";
import { coCommitMode } from "./store.js";

interface ResolvedPolicies {
  readonly policies: readonly RetryPolicy[];
  readonly compensationPolicies: readonly ResolvedCompensationPolicy[];
}

// A runner's environment and a saga definition are both frozen, so the policies resolved from
// them are the same for every execution of that saga by that runner: resolved once, then reused.
const POLICIES = new WeakMap<ExecutionEnv, WeakMap<Saga, ResolvedPolicies>>();

/** Each step's retry and compensation policy for `saga` under `env`, resolved once per pair. */
function resolvedPolicies(env: ExecutionEnv, saga: Saga): ResolvedPolicies {
  let bySaga = POLICIES.get(env);
  if (bySaga === undefined) {
    bySaga = new WeakMap();
    POLICIES.set(env, bySaga);
  }
  let resolved = bySaga.get(saga);
  if (resolved === undefined) {
    const policies = Object.freeze(
      saga.steps.map((s) => resolveRetry(`step "${s.name}": retry`, s.retry, env.retry)),
    );
    const compensationPolicies = Object.freeze(
      saga.steps.map((s, i) => resolveCompensationPolicy(s, policies[i] as RetryPolicy, env)),
    );
    resolved = { policies, compensationPolicies };
    bySaga.set(saga, resolved);
  }
  return resolved;
}

/** What an execution is built from. */
export interface ExecutionOptions {
  /** The runner's environment: log, clock, lease, defaults, listeners. */
  readonly env: ExecutionEnv;
  /** The saga's definition. */
  readonly saga: Saga;
  /** The saga instance's id. */
  readonly sagaId: string;
  /** The saga's input, validated by its schema. */
  readonly input: unknown;
  /** The fencing token of the lease this execution holds. */
  readonly token: number;
  /**
   * The saga's status in the log.
   * @default running
   */
  readonly status?: SagaStatus;
  /**
   * The saga's log entries so far, replayed to rebuild its steps.
   * @default none: a new saga
   */
  readonly entries?: readonly StepEntry[];
  /**
   * How the saga stands in the log.
   * @default created, without its first intent
   */
  readonly creation?: Creation;
}

/** One step of the saga, as this execution knows it. */
export interface StepState {
  status: StepStatus;
  attempts: number;
  /** Whether any intent was recorded, i.e. execute may have started. */
  executed: boolean;
  /** When the step's first intent was recorded: when its key may first have been sent. */
  firstSentAt: number | undefined;
  /** The output as the step returned it, which is what the log keeps. */
  raw: unknown;
  /** The output as the step's schema parses it. */
  output: unknown;
  via: "execute" | "probe" | undefined;
  error: { kind: ErrorKind; message: string } | undefined;
  /** Whether the step's writes commit in one transaction with its log records. */
  coCommitted: boolean;
}

/** A compensation that ran out of attempts: its step, and the error of its last attempt. */
export interface StuckCompensation {
  readonly step: string;
  readonly error: { readonly kind: ErrorKind; readonly message: string };
}

/** A saga event without the fields every event shares. */
export type EventBody = SagaEvent extends infer E
  ? E extends SagaEvent
    ? Omit<E, "sagaId" | "saga" | "at">
    : never
  : never;

/**
 * The state one execution shares between its parts: the saga, its steps as far as this execution
 * knows them (rebuilt from the log when it resumes one), its status, and its journal of the log.
 * Each move on a step goes through here, so the step's state, the entry that records it and the
 * event that announces it never disagree.
 */
export class ExecutionState {
  readonly env: ExecutionEnv;
  readonly saga: Saga;
  readonly sagaId: string;
  readonly input: unknown;
  readonly journal: SagaJournal;
  /** Each step's state, in definition order. */
  readonly steps: readonly StepState[];
  /** Each step's retry policy, resolved over the runner's. */
  readonly policies: readonly RetryPolicy[];
  /** Each step's compensation retry and deadline, resolved (see `CompensationPolicy`). */
  readonly compensationPolicies: readonly ResolvedCompensationPolicy[];
  status: SagaStatus;
  attention: SagaReport["attention"];
  /** The compensation that ran out of attempts in this drive, with its last error, if one did. */
  stuckCompensation: StuckCompensation | undefined;

  constructor(options: ExecutionOptions) {
    const { env, saga, entries = [] } = options;
    this.env = env;
    this.saga = saga;
    this.sagaId = options.sagaId;
    this.input = options.input;
    this.status = options.status ?? SagaStatus.Running;
    this.journal = new SagaJournal(
      env,
      options.sagaId,
      options.token,
      options.creation ?? { created: true, firstIntentRecorded: false },
      entries.at(-1)?.seq ??
        (options.creation?.created && options.creation.firstIntentRecorded ? 1 : 0),
    );
    const resolved = resolvedPolicies(env, saga);
    this.policies = resolved.policies;
    this.compensationPolicies = resolved.compensationPolicies;
    const byName = new Map(saga.steps.map((s) => [s.name, s]));
    const parse = (name: string, raw: unknown) =>
      byName.get(name)?.output.safeParse(raw).success === true;
    this.steps = replaySteps(saga.definition, entries, parse).map((r, i): StepState => {
      const committed = r.status === StepStatus.Committed || r.status === StepStatus.Compensated;
      // The replay checked the output; its parsed value is what the steps after this one see.
      const parsed = committed ? this.stepAt(i).output.safeParse(r.output) : undefined;
      return {
        status: r.status,
        attempts: r.attempts,
        executed: r.executed,
        firstSentAt: r.firstSentAt,
        raw: r.output,
        output: parsed?.success ? parsed.data : undefined,
        via: r.via === "probe" ? "probe" : committed ? "execute" : undefined,
        // The log's error kinds are the runner's: the log validates them on write and on read.
        error: r.error as StepState["error"],
        coCommitted: r.via === "co_commit",
      };
    });
  }

  /** Step `i`'s definition. */
  stepAt(i: number): StepDefinition {
    return this.saga.steps[i] as StepDefinition;
  }

  /** Step `i`'s state. */
  stateAt(i: number): StepState {
    return this.steps[i] as StepState;
  }

  /** The current report. */
  report(): SagaReport {
    const outputs: Record<string, unknown> = {};
    const steps: StepReport[] = this.saga.steps.map((step, i) => {
      const st = this.stateAt(i);
      if (st.status === StepStatus.Committed) outputs[step.name] = st.output;
      return {
        name: step.name,
        kind: step.kind,
        store: step.store.id,
        status: st.status,
        strategy: !st.coCommitted
          ? "saga"
          : coCommitMode(step.store, this.env.log.coCommit?.storeId) === "batch"
            ? "batch_co_committed"
            : "co_committed",
        attempts: st.attempts,
        ...(st.via === undefined || st.status !== StepStatus.Committed
          ? {}
          : { committedVia: st.via }),
        ...(st.error === undefined ? {} : { error: st.error }),
      };
    });
    return {
      sagaId: this.sagaId,
      saga: this.saga.name,
      status: this.status,
      steps,
      outputs,
      ...(this.attention === undefined ? {} : { attention: this.attention }),
    };
  }

  /** The index of the first step that is not committed, or the step count. */
  get nextStep(): number {
    const i = this.steps.findIndex((s) => s.status !== StepStatus.Committed);
    return i === -1 ? this.steps.length : i;
  }

  /** Whether the pivot (or, without one, the last compensatable step) has committed. */
  get pastPivot(): boolean {
    const from = this.saga.forwardFrom;
    if (from === 0) return true;
    return this.stateAt(from - 1).status === StepStatus.Committed;
  }

  /** Writes the journal's pending entries plus `change`, and takes note of the status it sets. */
  async write(change: Change): Promise<void> {
    // Every write states the status it was computed from: the log refuses it if the saga moved on
    // (a slow commit of this execution's own, a resubmission), so the log never moves backwards.
    await this.journal.write(
      change.expectStatus === undefined ? { ...change, expectStatus: [this.status] } : change,
    );
    this.statusChanged(change);
  }

  /**
   * Starts a new attempt generation before an open attempt's probe is trusted: one durable log
   * write that raises the saga's fencing token, handed from then on to the probe and every later
   * attempt or compensation, so a store that keeps the highest token it has seen refuses the open
   * attempt's late request. Whether it is durable; an execution whose lease was taken stops here.
   */
  async fenceAttempts(): Promise<boolean> {
    if (this.journal.draft !== undefined) return false;
    try {
      await this.write({ fence: true });
      return true;
    } catch (error) {
      if (error instanceof LeaseLost) throw error;
      return false;
    }
  }

  /** Takes note of a status a log write set, telling listeners. */
  statusChanged(change: Change): void {
    if (change.status !== undefined && change.status !== this.status) {
      this.status = change.status;
      this.emit(
        change.attention === undefined
          ? { type: "saga.status", status: change.status }
          : { type: "saga.status", status: change.status, reason: change.attention.reason },
      );
    }
  }

  /** Step `i` committed: its state, its entry (with the next write) and its event. */
  commit(
    i: number,
    attempt: number,
    raw: unknown,
    output: unknown,
    via: "execute" | "probe",
    messages: readonly NewOutboxMessage[] = [],
  ): void {
    const step = this.stepAt(i);
    const st = this.stateAt(i);
    st.status = StepStatus.Committed;
    st.raw = raw;
    st.output = output;
    st.via = via;
    // A commit found by the probe keeps the error that made the probe necessary, for the report.
    if (via === "execute") st.error = undefined;
    this.journal.stage(this.entry(step, EntryType.Committed, attempt, { output: raw, via }));
    // The messages ride with the same write as the commit's entry: both are recorded, or neither.
    this.journal.stageMessages(messages);
    this.emit({ type: "step.committed", step: step.name, attempt, via });
  }

  /** Step `i` provably did not commit: its state, its entry (with the next write) and its event. */
  notCommitted(i: number, attempt: number, kind: ErrorKind, error: unknown): void {
    const step = this.stepAt(i);
    const st = this.stateAt(i);
    st.status = StepStatus.NotCommitted;
    if (error !== undefined) st.error = { kind, message: messageOf(error) };
    this.journal.stage(
      this.entry(
        step,
        EntryType.NotCommitted,
        attempt,
        st.error === undefined ? {} : { error: st.error },
      ),
    );
    this.emit({ type: "step.not_committed", step: step.name, attempt, kind });
  }

  /** A log entry about `step`, stamped now. */
  entry(
    step: StepDefinition,
    type: EntryType,
    attempt: number,
    extra: Partial<Pick<NewStepEntry, "output" | "error" | "via">> = {},
  ): NewStepEntry {
    return { step: step.name, type, attempt, at: this.env.clock.now(), ...extra };
  }

  /**
   * What step `i`'s code sees. Earlier steps of a co-committed group are not committed until their
   * transaction is: their outputs come in `pending`.
   */
  context(
    i: number,
    attempt: number,
    scope: { signal: AbortSignal; deadline: number },
    pending: Readonly<Record<string, unknown>> = {},
  ): StepContext<unknown, unknown, unknown> {
    const step = this.stepAt(i);
    const outputs: Record<string, unknown> = { ...pending };
    for (let k = 0; k < i; k++) {
      const st = this.stateAt(k);
      if (st.status === StepStatus.Committed || st.status === StepStatus.Compensated) {
        outputs[this.stepAt(k).name] = st.output;
      }
    }
    const key = stepKey(this.sagaId, step.name);
    const fencingToken = this.journal.token;
    const call = { sagaId: this.sagaId, step: step.name, key, fencingToken };
    return {
      input: this.input,
      outputs: Object.freeze(outputs),
      sagaId: this.sagaId,
      key,
      attempt,
      fencingToken,
      handle: step.store.handleFor?.(scope, call) ?? step.store.handle,
      signal: scope.signal,
      deadline: scope.deadline,
      keyWindow: keyWindowAt(
        step.store.keyWindowMs,
        this.stateAt(i).firstSentAt,
        this.env.clock.now(),
      ),
    };
  }

  /** Tells the runner's listener of `event`, about this saga, now. */
  emit(event: EventBody): void {
    if (this.env.onEvent === undefined) return;
    emitEvent(this.env, {
      ...event,
      sagaId: this.sagaId,
      saga: this.saga.name,
      at: this.env.clock.now(),
    } as SagaEvent);
  }
}
