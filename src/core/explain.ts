import type { SagaLog } from "../log/saga-log.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { StepKind } from "../model/step-kind.js";
import { type AttemptFence, NO_FENCE } from "./attempt-fence.js";
import type { StoreCapabilities } from "./capabilities.js";
import { resolveCompensationPolicy } from "./compensation-policy.js";
import { DEFAULT_TIMEOUT_MS, type ExecutionEnv, executionEnvOf } from "./execution-env.js";
import { type OutboxPlan, outboxPlanOf } from "./explain-outbox.js";
import { keyWindowNote } from "./key-window.js";
import type { StepStrategy } from "./report.js";
import { DEFAULT_RETRY, resolveRetry } from "./retry.js";
import type { Saga, SagaRecoveryPolicy } from "./saga.js";
import type { StepDefinition } from "./step.js";
import { coCommitMode, isCoCommitted } from "./store.js";
import { describeValue } from "./validate.js";

/** How long a step's outcome can stay unknown after a call whose result the runner did not see. */
export const InDoubtWindow = {
  /** Never: the step commits in one transaction with its log record, so the log says what happened. */
  None: "none",
  /** From the call until the step's probe answers; if it cannot tell, the saga is parked `in_doubt`. */
  UntilProbed: "until_probed",
  /** Until the step is executed again with the same key (a retriable step without a probe). */
  ReExecutedByKey: "re_executed_by_key",
} as const;

/** One of the values of {@link InDoubtWindow}. */
export type InDoubtWindow = (typeof InDoubtWindow)[keyof typeof InDoubtWindow];

/** What an explain plan can find missing from a step. */
export const PlanGapCode = {
  /**
   * A retriable step without a probe, not co-committed: an outcome the runner cannot see is settled
   * by executing the step again with the same key, which is safe only if execute is idempotent by
   * that key, and nothing in the definition declares that it is.
   */
  NoProbe: "no_probe",
  /**
   * A compensatable step whose store declares no `conditionalWrite`: its compensation cannot check
   * and undo in one guarded write, so a change made by another writer between its read and its write
   * would be clobbered.
   */
  NoCasGuard: "no_cas_guard",
  /**
   * A compensatable step whose store declares `conditionalWrite` but not `versionsNeverReused`, and
   * no transactions: the version its compensation is guarded by may be given again to a document
   * another writer creates under the same key after a delete (or after the store lost data), and
   * the guard would then undo that writer's document.
   */
  ReusableVersions: "reusable_versions",
} as const;

/** One of the values of {@link PlanGapCode}. */
export type PlanGapCode = (typeof PlanGapCode)[keyof typeof PlanGapCode];

/** Something a step lacks for the guarantee lockstep would otherwise give it. */
export interface PlanGap {
  /** What is missing. */
  readonly code: PlanGapCode;
  /** The step that lacks it. */
  readonly step: string;
  /** A full sentence naming the step, what is missing, what can go wrong, and the fix. */
  readonly message: string;
}

/** The plan of one step: how lockstep will make its write safe, and what that is worth. */
export interface StepPlan {
  /** The step's name. */
  readonly name: string;
  /** Where the step stands relative to the point of no return. */
  readonly kind: StepKind;
  /** The id of the store the step writes to. */
  readonly store: string;
  /** What that store declares it can do. */
  readonly capabilities: StoreCapabilities;
  /**
   * `co_committed` when the step's store is the database the log lives in and declares
   * transactions; `batch_co_committed` when it is that database and runs deferred atomic batches
   * instead (D1); `saga` (a logged, probed step) otherwise. Matches the `strategy` of the step in
   * a run's report.
   */
  readonly strategy: StepStrategy;
  /**
   * For a co-committed step, every step that commits in the same transaction, in order (this one
   * included): consecutive co-committed steps collapse into one transaction.
   */
  readonly transaction: readonly string[] | undefined;
  /** The guarantee the step gets, in words. */
  readonly guarantee: string;
  /** How long its outcome can stay unknown. */
  readonly inDoubt: InDoubtWindow;
  /** The in-doubt window, in words. */
  readonly inDoubtDescription: string;
  /**
   * How the step's store closes an attempt whose call did not return (see {@link AttemptFence}):
   * what lets a probe's "not committed" be trusted. `none` when the store declares no fence.
   */
  readonly fence: AttemptFence["mode"];
  /** How long its store's provider remembers the step's key (`keyWindowMs`); none when undeclared. */
  readonly keyWindowMs: number | undefined;
  /** What the step lacks; empty when nothing is. */
  readonly gaps: readonly PlanGap[];
  /** How its outbox messages are recorded and relayed; `undefined` when it publishes none. */
  readonly outbox: OutboxPlan | undefined;
  /**
   * Remarks about the step that are not gaps: that a timed-out attempt of a step recovered by its
   * probe cannot be closed on its store, so such a step ends in doubt. Empty when there are none.
   */
  readonly notes: readonly string[];
  /**
   * For a compensatable step, how its compensation is retried and timed in one run; `undefined`
   * for a step that is never compensated.
   */
  readonly compensation: CompensationPlan | undefined;
}

/**
 * How a step's compensation is retried and timed within one run: its compensation policy resolved
 * over the runner's (the one given to {@link explain}, or lockstep's defaults without one).
 */
export interface CompensationPlan {
  /** Attempts within one run; after the last the saga stays `compensating` for the recoverer. */
  readonly attempts: number;
  /** Delay before the second attempt, in milliseconds. */
  readonly initialDelayMs: number;
  /** The largest delay between attempts, in milliseconds. */
  readonly maxDelayMs: number;
  /** Growth of the delay per attempt. */
  readonly factor: number;
  /** Fraction of each delay that is randomized. */
  readonly jitter: number;
  /** Deadline of each compensate call, in milliseconds. */
  readonly timeoutMs: number;
  /** The same, in words, saying whose defaults fill what the step leaves unset. */
  readonly description: string;
}

/** The explain plan of a saga: per step, the strategy, the guarantee and what is missing. */
export interface SagaPlan {
  /** The saga's name. */
  readonly saga: string;
  /** Its definition version. */
  readonly version: number;
  /** What recovery does with the saga when it stops before its pivot. */
  readonly recovery: SagaRecoveryPolicy;
  /** The id of the store the log can co-commit with, or `undefined` when it cannot (or none was given). */
  readonly coCommitStore: string | undefined;
  /** Every step, in definition order. */
  readonly steps: readonly StepPlan[];
  /** The transactions consecutive co-committed steps collapse into, each as its step names. */
  readonly transactions: readonly (readonly string[])[];
  /** Every step's gaps, in step order. */
  readonly gaps: readonly PlanGap[];
  /** Remarks about the whole saga that are not gaps (no log given, an in-memory log). */
  readonly notes: readonly string[];
}

/** Options of {@link explain}. */
export interface ExplainOptions {
  /**
   * The saga log the saga will run with: its `coCommit.storeId` decides which steps commit together
   * with their log records. Without it, no step is assumed co-committed and the plan says so.
   * @default none
   * @example `explain(saga, { log: sqliteSagaLog(db) })`
   */
  readonly log?:
    | SagaLog
    | {
        /** The log's co-commit capability, if it has one. */
        readonly coCommit?: {
          /** The id of the store whose transactions can carry the log's records. */
          readonly storeId: string;
        };
        /** Whether the log survives the process; see {@link SagaLog.durable}. */
        readonly durable?: boolean;
      };
  /**
   * Refuse a saga with gaps: throw a {@link LockstepDefinitionError} listing every gap instead of
   * returning the plan.
   * @default false
   */
  readonly strict?: boolean;
  /**
   * The runner (made by `createRunner`) the saga will run with: its `retry`, `timeoutMs` and
   * `compensation` fill what each step leaves unset in its compensation plan, and its log stands
   * for `log` when that is not given.
   * @default none: lockstep's defaults fill them
   * @example `explain(saga, { runner })`
   */
  readonly runner?: { readonly log: SagaLog };
}

/**
 * Explains how lockstep will run a saga: for each step, the strategy its store's declared
 * capabilities resolve to (co-committed with the log, or a probed saga step), the guarantee that
 * gives, how long its outcome can stay in doubt, and what is missing. Reads the definition and the
 * capabilities only; calls nothing.
 *
 * @example
 * ```ts
 * const plan = explain(transfer, { log });
 * for (const step of plan.steps) console.log(step.name, step.strategy, step.inDoubt);
 * for (const gap of plan.gaps) console.warn(gap.message);
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: explains sagas of every input and output type.
export function explain(saga: Saga<any, any>, options: ExplainOptions = {}): SagaPlan {
  if (typeof saga !== "object" || saga === null || !Array.isArray(saga.steps)) {
    throw new LockstepDefinitionError(
      `Expected a saga built by defineSaga(…).build() to explain, got ${describeValue(saga)}.`,
    );
  }
  const strict = options.strict ?? false;
  if (typeof strict !== "boolean") {
    throw new LockstepDefinitionError(
      `Expected \`strict\` to be a boolean, got ${describeValue(strict)}.`,
    );
  }
  const env = options.runner === undefined ? undefined : executionEnvOf(options.runner);
  const log = options.log ?? env?.log;
  const coCommitStore = log?.coCommit?.storeId;
  const steps = saga.steps as readonly StepDefinition[];
  const coCommitted = steps.map((step) => isCoCommitted(step.store, coCommitStore));
  const batched = steps.map((step) => coCommitMode(step.store, coCommitStore) === "batch");
  const transactions = groupsOf(steps, coCommitted);
  const plans = steps.map((step, i): StepPlan => {
    const co = coCommitted[i] === true;
    const base = planStep(saga, step, i, co, transactions, coCommitStore, batched[i]);
    const outbox = outboxPlanOf(saga, step, co, log);
    const notes = outbox === undefined ? base.notes : Object.freeze([...base.notes, outbox.note]);
    return Object.freeze({ ...base, notes, outbox, compensation: compensationPlanOf(step, env) });
  });
  const gaps = plans.flatMap((p) => p.gaps);
  const plan: SagaPlan = Object.freeze({
    saga: saga.name,
    version: saga.version,
    recovery: saga.recovery,
    coCommitStore,
    steps: Object.freeze(plans),
    transactions: Object.freeze(transactions),
    gaps: Object.freeze(gaps),
    notes: Object.freeze(notesOf(log, coCommitStore)),
  });
  if (strict && gaps.length > 0) throw new LockstepDefinitionError(strictMessage(plan));
  return plan;
}

/**
 * Explains a saga in strict mode: returns its plan when it has no gaps, and otherwise throws a
 * {@link LockstepDefinitionError} whose message lists every gap. Call it where the saga is defined
 * or at start-up, so a saga that would run with a gap never runs.
 *
 * @example
 * ```ts
 * assertExplained(transfer, { log }); // throws, naming each step and what it lacks
 * ```
 */
export function assertExplained(
  // biome-ignore lint/suspicious/noExplicitAny: explains sagas of every input and output type.
  saga: Saga<any, any>,
  options: Omit<ExplainOptions, "strict"> = {},
): SagaPlan {
  return explain(saga, { ...options, strict: true });
}

/** The same rule the runner applies when it groups steps into one transaction with the log. */

function groupsOf(
  steps: readonly StepDefinition[],
  coCommitted: readonly boolean[],
): (readonly string[])[] {
  const groups: (readonly string[])[] = [];
  let current: string[] = [];
  steps.forEach((step, i) => {
    if (coCommitted[i]) {
      current.push(step.name);
      return;
    }
    if (current.length > 0) groups.push(Object.freeze(current));
    current = [];
  });
  if (current.length > 0) groups.push(Object.freeze(current));
  return groups;
}

function planStep(
  // biome-ignore lint/suspicious/noExplicitAny: any saga.
  saga: Saga<any, any>,
  step: StepDefinition,
  index: number,
  coCommitted: boolean,
  transactions: readonly (readonly string[])[],
  coCommitStore: string | undefined,
  batched = false,
): Omit<StepPlan, "compensation" | "outbox"> {
  const transaction = coCommitted ? transactions.find((g) => g.includes(step.name)) : undefined;
  const inDoubt = coCommitted
    ? InDoubtWindow.None
    : step.probe === undefined && step.kind === StepKind.Retriable
      ? InDoubtWindow.ReExecutedByKey
      : InDoubtWindow.UntilProbed;
  const gaps: PlanGap[] = [];
  if (inDoubt === InDoubtWindow.ReExecutedByKey && step.idempotent !== true) {
    gaps.push({
      code: PlanGapCode.NoProbe,
      step: step.name,
      message: `Step "${step.name}" of saga "${saga.name}" is retriable and has no probe, so an outcome the runner cannot see (a timeout, a lost response) is settled by executing it again with the same key; that is safe only if its execute is idempotent by that key, and nothing declares that it is. Give it a probe.`,
    });
  }
  if (step.kind === StepKind.Compensatable && !step.store.capabilities.conditionalWrite) {
    gaps.push({
      code: PlanGapCode.NoCasGuard,
      step: step.name,
      message: `Step "${step.name}" of saga "${saga.name}" is compensatable but its store "${step.store.id}" declares no conditionalWrite, so its compensation cannot check and undo in one guarded write; another writer's change between its read and its write would be clobbered. Use a store that can compare-and-set, or declare conditionalWrite if it can.`,
    });
  }
  if (step.kind === StepKind.Compensatable && reusesVersions(step.store.capabilities)) {
    gaps.push({
      code: PlanGapCode.ReusableVersions,
      step: step.name,
      message: `Step "${step.name}" of saga "${saga.name}" is compensatable but its store "${step.store.id}" declares no versionsNeverReused, so the version its compensation is guarded by may be given again to a document created after a delete or a data loss; the guard would then match, and the undo clobber, another writer's document. Use a store whose versions are never reused, or declare versionsNeverReused if its versions never repeat.`,
    });
  }
  const fence = step.store.fence ?? NO_FENCE;
  const notes: string[] = [];
  if (inDoubt === InDoubtWindow.UntilProbed && fence.mode === "none") {
    notes.push(
      `Step "${step.name}" of saga "${saga.name}" is settled by its probe, but its store "${step.store.id}" declares no fence, so a timed-out attempt of this step cannot be closed: it may still land after the probe looked, so the probe's "not committed" is not trusted and such a step ends in doubt (parked for the recoverer) instead of being retried or compensated. Declare the store's \`fence\` if it can close attempts.`,
    );
  }
  const window = step.store.keyWindowMs;
  if (window !== undefined) notes.push(keyWindowNote(saga.name, step, window));
  let guarantee = guaranteeOf(saga, step, index, transaction, coCommitStore);
  if (batched) {
    guarantee = guarantee.replaceAll("one transaction", "one atomic batch, with a fencing check,");
  }
  if (inDoubt === InDoubtWindow.UntilProbed) guarantee += ` ${fenceWords(fence)}`;
  return {
    name: step.name,
    kind: step.kind,
    store: step.store.id,
    capabilities: step.store.capabilities,
    strategy: !coCommitted ? "saga" : batched ? "batch_co_committed" : "co_committed",
    transaction,
    guarantee,
    inDoubt,
    inDoubtDescription: IN_DOUBT_WORDS[inDoubt],
    fence: fence.mode,
    keyWindowMs: step.store.keyWindowMs,
    gaps: Object.freeze(gaps),
    notes: Object.freeze(notes),
  };
}

/** A compensatable step's compensation plan, over `env`'s defaults or lockstep's. */
function compensationPlanOf(
  step: StepDefinition,
  env: ExecutionEnv | undefined,
): CompensationPlan | undefined {
  if (step.kind !== StepKind.Compensatable) return undefined;
  const defaults = env ?? { retry: DEFAULT_RETRY, timeoutMs: DEFAULT_TIMEOUT_MS };
  const stepRetry = resolveRetry(`step "${step.name}": retry`, step.retry, defaults.retry);
  const { retry, timeoutMs } = resolveCompensationPolicy(step, stepRetry, defaults);
  const { attempts, initialDelayMs, maxDelayMs, factor, jitter } = retry;
  const whose =
    env === undefined
      ? "lockstep's defaults (pass the runner to explain to see its own)"
      : "the runner's settings";
  const backoff =
    attempts === 1
      ? ""
      : `, ${initialDelayMs} ms after the first failure and ${factor}× more after each up to ${maxDelayMs} ms (jitter ${jitter})`;
  return Object.freeze({
    attempts,
    initialDelayMs,
    maxDelayMs,
    factor,
    jitter,
    timeoutMs,
    description: `Its compensation gets up to ${attempts} ${attempts === 1 ? "attempt" : "attempts"} in one run${backoff}, each call within ${timeoutMs} ms; after the last, the saga stays compensating and the recoverer tries again. What the step leaves unset comes from ${whose}.`,
  });
}

/** What closing a timed-out attempt means on a store with `fence`, in words. */
function fenceWords(fence: AttemptFence): string {
  switch (fence.mode) {
    case "kill_and_wait":
      return "A timed-out attempt is ended for certain (its store stops the work and waits for it to stop) before its probe's answer is trusted.";
    case "in_process":
      return "A timed-out attempt writes within this process, so once its call settles nothing of it can land; its probe's answer is trusted then.";
    case "fence_token":
      return "Before a timed-out attempt is probed, the saga's fencing token is raised durably; its store refuses the attempt's late requests, which carry the lower token.";
    case "landing_horizon":
      return `A timed-out attempt is waited out for ${fence.horizonMs} ms, the longest its store lets it stay in flight, before its probe's answer is trusted.`;
    case "none":
      return "Nothing closes a timed-out attempt on its store: a probe that does not find it leaves the step in doubt.";
  }
}

const IN_DOUBT_WORDS: Readonly<Record<InDoubtWindow, string>> = {
  none: "None: its log record commits in the same transaction, so the log itself says whether it landed.",
  until_probed:
    "From the call until its probe answers; if the probe cannot tell, the saga is parked in_doubt and the recoverer probes again later.",
  re_executed_by_key:
    "Until it is executed again with the same key; safe only if its execute is idempotent by that key.",
};

function guaranteeOf(
  // biome-ignore lint/suspicious/noExplicitAny: any saga.
  saga: Saga<any, any>,
  step: StepDefinition,
  index: number,
  transaction: readonly string[] | undefined,
  coCommitStore: string | undefined,
): string {
  const others = transaction?.filter((name) => name !== step.name) ?? [];
  let how: string;
  if (transaction === undefined) {
    how =
      step.probe === undefined
        ? "Its intent and idempotency key are logged before execute runs; an outcome the runner cannot see is settled by executing it again with the same key."
        : "Its intent and idempotency key are logged before execute runs; an outcome the runner cannot see is settled by its probe before anything is undone.";
    if (step.store.id === coCommitStore && !step.store.capabilities.transactions) {
      how += ` It shares the log's database "${coCommitStore}", but its store declares no transactions, so it cannot commit together with its log record.`;
    }
  } else if (others.length === 0) {
    how =
      "It commits in one transaction with its log records: its write and the record of it land together or not at all.";
  } else {
    how = `It commits in one transaction with its log records and those of ${others.map((n) => `"${n}"`).join(", ")}: all of them land together or none does.`;
  }
  let role: string;
  if (step.kind === StepKind.Compensatable) {
    role = step.store.capabilities.conditionalWrite
      ? " If the saga stops before its point of no return, its guarded compensation undoes it, unless the guard finds state it did not write (then the saga needs attention)."
      : " If the saga stops before its point of no return, its compensation undoes it, but its store declares no compare-and-set to guard that undo.";
    if (reusesVersions(step.store.capabilities)) {
      role +=
        " Its store may give a re-created document a version it gave before, so a guard on the version the step wrote could match another writer's document.";
    } else if (
      step.store.capabilities.conditionalWrite &&
      !step.store.capabilities.versionsNeverReused
    ) {
      role +=
        " Its store does not promise never to reuse a version, so its compensation's transaction must check what the step left (an id the step generated), not a version a delete could reset.";
    }
    if (saga.recovery === "roll_forward") {
      role += " A transient failure of a later step does not unwind it: the saga rolls forward.";
    }
  } else if (step.kind === StepKind.Pivot) {
    role = " It is the point of no return: once it commits, the saga only moves forward.";
  } else {
    role =
      index >= saga.forwardFrom
        ? " It runs after the point of no return and is retried until it commits; it is never undone."
        : " It is retried until it commits; it is never undone.";
  }
  return how + role;
}

/**
 * Whether a guard on this store may compare a version that is given again. A store with transactions
 * is not held to it: its compensation checks, in the transaction that undoes, whatever the step left
 * (the ids it generated, a row's owner), so what that guard compares is the schema's, not the
 * store's; its guarantee says so instead.
 */
function reusesVersions(capabilities: StoreCapabilities): boolean {
  return (
    capabilities.conditionalWrite && !capabilities.transactions && !capabilities.versionsNeverReused
  );
}

function notesOf(log: ExplainOptions["log"], coCommitStore: string | undefined): string[] {
  if (log === undefined) {
    return [
      "No saga log was given, so no step is planned as co-committed; pass the runner's log to see which steps commit with their log records.",
    ];
  }
  const notes: string[] = [];
  if (log.durable === false) {
    notes.push(
      "The saga log is in memory: a crash loses every saga in flight, and recovery in another process has nothing to read.",
    );
  }
  if (coCommitStore === undefined) {
    notes.push("The saga log cannot commit inside a store's transactions, so no step co-commits.");
  }
  return notes;
}

function strictMessage(plan: SagaPlan): string {
  const count = plan.gaps.length === 1 ? "1 gap" : `${plan.gaps.length} gaps`;
  return `Saga "${plan.saga}" has ${count}, and strict mode refuses to run a saga with gaps: ${plan.gaps
    .map((gap, i) => `(${i + 1}) ${gap.message}`)
    .join(" ")}`;
}
