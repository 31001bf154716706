import { SagaLogError } from "../log/saga-log.js";
import { type ErrorKind, isProvablyNotApplied } from "../model/error-kind.js";
import type { NewOutboxMessage } from "../model/outbox.js";
import {
  EntryType,
  type NewStepEntry,
  type SagaRecord,
  type SagaSnapshot,
  SagaStatus,
} from "../model/records.js";
import {
  type AttemptResult,
  failureOf,
  findCause,
  findEscalation,
  retryAfter,
} from "./attempt-outcome.js";
import { closeAttempt } from "./close-attempt.js";
import { callWithDeadline } from "./deadline.js";
import { StoreError } from "./error-kinds.js";
import type { ExecutionState } from "./execution-state.js";
import { StepStatus } from "./report.js";
import { type Change, LeaseLost, SagaExists } from "./saga-journal.js";
import type { StepDefinition } from "./step.js";
import { checkCommit } from "./step-messages.js";
import { coCommitMode, isCoCommitted } from "./store.js";

/**
 * The end (exclusive) of the run of steps from `i` that can commit together with their log
 * records: consecutive, not yet committed, all on the transactional store the log lives in.
 * `undefined` when step `i` is not one of them.
 */
export function coCommitGroup(state: ExecutionState, i: number): number | undefined {
  const coCommit = state.env.log.coCommit;
  if (coCommit === undefined) return undefined;
  let end = i;
  while (end < state.steps.length) {
    const st = state.stateAt(end);
    const eligible =
      isCoCommitted(state.stepAt(end).store, coCommit.storeId) &&
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
export async function attemptGroup(
  state: ExecutionState,
  from: number,
  end: number,
  signal: AbortSignal | undefined,
): Promise<AttemptResult> {
  const { journal } = state;
  const store = state.stepAt(from).store;
  // A store with transactions co-commits in one; a batch store in one deferred atomic batch.
  const transaction = (
    coCommitMode(store, state.env.log.coCommit?.storeId) === "transaction"
      ? store.transaction
      : store.deferredBatch
  ) as NonNullable<StepDefinition["store"]["transaction"]>;
  const steps = state.saga.steps.slice(from, end);
  const timeoutMs = steps.reduce((sum, step) => sum + (step.timeoutMs ?? state.env.timeoutMs), 0);
  // A group that reaches the last step completes the saga in the same commit.
  const finish: Change =
    end === state.steps.length ? { status: SagaStatus.Completed, releaseLease: true } : {};
  for (;;) {
    await journal.renewLease();
    const attempts = steps.map((_, k) => state.stateAt(from + k).attempts + 1);
    const outputs: { raw: unknown; output: unknown }[] = [];
    const committed: NewStepEntry[] = [];
    const messages: NewOutboxMessage[] = [];
    const draft = journal.draft;
    const creating = draft !== undefined;
    const carried = journal.pending;
    const carriedMessages = journal.pendingMessages;
    let running = from;
    let invalid: { at: number; message: string } | undefined;
    const outcome = await callWithDeadline(state.env.clock, timeoutMs, signal, (scope) =>
      transaction(async (tx) => {
        // The store may rerun the work (a serialization retry): start each run from scratch.
        outputs.length = 0;
        committed.length = 0;
        messages.length = 0;
        invalid = undefined;
        // No intents: nothing in the transaction is durable before its commit, which records
        // each step's outcome with the step's own writes.
        for (let k = 0; k < steps.length; k++) {
          const step = steps[k] as StepDefinition;
          const attempt = attempts[k] as number;
          running = from + k;
          state.emit({ type: "step.started", step: step.name, attempt });
          const earlier = Object.fromEntries(
            outputs.map((o, n) => [(steps[n] as StepDefinition).name, o.output]),
          );
          const raw = await step.execute({
            ...state.context(from + k, attempt, scope, earlier),
            handle: tx,
          });
          const checked = checkCommit(state, from + k, raw, earlier);
          if (!checked.ok) {
            invalid = { at: from + k, message: checked.message };
            throw new StoreError(
              "not_committed",
              `The output of step "${step.name}" ${checked.message}.`,
            );
          }
          outputs.push({ raw, output: checked.output });
          messages.push(...checked.messages);
          committed.push(
            state.entry(step, EntryType.Committed, attempt, { output: raw, via: "co_commit" }),
          );
        }
        // One log write for the whole group, at the end: a refusal rolls everything back.
        await journal.writeIn(
          tx,
          { ...finish, expectStatus: [state.status] },
          [...carried, ...committed],
          [...carriedMessages, ...messages],
        );
      }, scope),
    );
    if (invalid !== undefined) {
      const { at, message } = invalid;
      return { type: "invalid_output", message, at };
    }
    if (outcome.status === "error" && creating && findLogFailure(outcome.error, "exists")) {
      throw new SagaExists();
    }
    if (outcome.status === "error" && findLogFailure(outcome.error, "stale_token")) {
      throw new LeaseLost();
    }
    const failure = outcome.status === "ok" ? undefined : failureOf(state.stepAt(running), outcome);
    let landed = failure === undefined;
    let read: { readonly snapshot: SagaSnapshot | undefined } | undefined;
    if (failure !== undefined && !isProvablyNotApplied(failure.kind)) {
      // The commit's fate is unknown; the log, written in that transaction, is the authority, once
      // the transaction can no longer commit: a COMMIT still under way would land after the read.
      // A batch that may still land is closed by any log write: its fencing check compares the
      // saga's row with the one it was planned from, so a batch sent late then applies nothing.
      const closure =
        coCommitMode(store, state.env.log.coCommit?.storeId) === "batch"
          ? (await state.fenceAttempts())
            ? "closed"
            : "open"
          : await closeAttempt(state, running, outcome);
      read = await journal.readBack();
      if (read === undefined) return { type: "in_doubt", at: running };
      // A creation is this run's only if the record is the one it drafted: another run of the same
      // id may have created the saga, with the same steps committed at the same attempts.
      landed =
        groupCommitted(
          read.snapshot,
          steps[steps.length - 1] as StepDefinition,
          attempts[attempts.length - 1] as number,
        ) &&
        (draft === undefined || createdAs(read.snapshot, draft));
      if (!landed && closure === "open") return { type: "in_doubt", at: running };
    }
    // A run of a saga id that exists (submitted twice) fails on its rows or on the record.
    if (!landed && creating) {
      read ??= await journal.readBack();
      if (read?.snapshot !== undefined) throw new SagaExists();
    }
    if (landed) {
      journal.landed();
      steps.forEach((step, k) => {
        const { raw, output } = outputs[k] as { raw: unknown; output: unknown };
        Object.assign(state.stateAt(from + k), {
          status: StepStatus.Committed,
          attempts: attempts[k],
          executed: true,
          raw,
          output,
          via: "execute",
          error: undefined,
          coCommitted: true,
        });
        state.emit({
          type: "step.committed",
          step: step.name,
          attempt: attempts[k] as number,
          via: "execute",
        });
      });
      state.statusChanged(finish);
      return { type: "committed" };
    }
    // Rolled back: nothing of the group is durable, so its intents are recorded with the outcome.
    const { kind, error } = failure as { kind: ErrorKind; error: unknown };
    for (let k = 0; k <= running - from; k++) {
      const st = state.stateAt(from + k);
      st.attempts = attempts[k] as number;
      st.executed = true;
      st.coCommitted = true;
      journal.stage(state.entry(steps[k] as StepDefinition, EntryType.Intent, st.attempts));
      state.notCommitted(from + k, st.attempts, kind, from + k === running ? error : undefined);
    }
    const escalation = outcome.status === "error" ? findEscalation(outcome.error) : undefined;
    if (escalation !== undefined) {
      return { type: "escalated", message: escalation.message, at: running };
    }
    const stop = await retryAfter(state, running, kind, error, signal);
    if (stop !== undefined) return stop;
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
 * Whether the saga's record is the one `draft` describes: created by this runner (its lease owner)
 * at this run's start. Only the creating run can have written both, while it holds the lease.
 */
function createdAs(snapshot: SagaSnapshot | undefined, draft: SagaRecord): boolean {
  const record = snapshot?.record;
  return record?.leaseOwner === draft.leaseOwner && record?.createdAt === draft.createdAt;
}

/** Whether a log error of `reason` is anywhere in an error's cause chain. */
function findLogFailure(error: unknown, reason: SagaLogError["reason"]): boolean {
  const refusal = (value: unknown): value is SagaLogError =>
    SagaLogError.is(value) && value.reason === reason;
  return findCause(error, refusal) !== undefined;
}
