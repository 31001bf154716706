import { SagaLogError } from "../log/saga-log.js";
import { AttentionReason } from "../model/attention-reason.js";
import {
  EntryType,
  type SagaRecord,
  type SagaSnapshot,
  SagaStatus,
  SCHEMA_VERSION,
  TERMINAL_STATUSES,
} from "../model/records.js";
import { callWithDeadline } from "./deadline.js";
import { type DriveResult, fail } from "./endings.js";
import { ErrorCode } from "./errors.js";
import { Execution } from "./execution.js";
import { type ExecutionEnv, emitEvent } from "./execution-env.js";
import { newSagaId } from "./ids.js";
import { messageOf } from "./message-of.js";
import type { Saga } from "./saga.js";
import type { Creation } from "./saga-journal.js";
import { invalidLoggedOutput } from "./step-output.js";
import { isCoCommitted } from "./store.js";

/** One run of a saga, as `runner.run` hands it over once its input and options are valid. */
export interface Submission {
  /** The runner's environment. */
  readonly env: ExecutionEnv;
  /** The saga to run. */
  readonly saga: Saga;
  /** The saga instance's id, given or new. */
  readonly sagaId: string;
  /** The input as the log keeps it: JSON. */
  readonly raw: unknown;
  /** The input as the saga's schema parses it. */
  readonly parsed: unknown;
  /** Cancels the run. */
  readonly signal: AbortSignal | undefined;
}

/**
 * Starts a run: creates the saga's record (with its first step's intent, or, when its first steps
 * co-commit, in their transaction) and drives it forward. A saga id that exists already makes the
 * run a resubmission of that saga.
 */
export async function startSaga(run: Submission): Promise<DriveResult> {
  const { env, saga, sagaId, raw, parsed, signal } = run;
  const now = env.clock.now();
  const record: SagaRecord = {
    schemaVersion: SCHEMA_VERSION,
    sagaId,
    definition: saga.definition,
    input: raw,
    status: SagaStatus.Running,
    attention: null,
    fencingToken: 1,
    leaseOwner: env.owner,
    leaseExpiresAt: now + env.leaseTtlMs,
    recoveryAttempts: 0,
    nextRecoveryAt: 0,
    createdAt: now,
    updatedAt: now,
  };
  const executionFor = (creation: Creation) =>
    new Execution({ env, saga, sagaId, input: parsed, token: 1, creation });
  const first = saga.steps[0] as Saga["steps"][number];
  if (isCoCommitted(first.store, env.log.coCommit?.storeId)) {
    // The first steps commit in one transaction with their log records, and that transaction
    // creates the saga's record too: a saga that crashes before it leaves nothing behind. Its lease
    // owner names this run, not only its runner: when the transaction's outcome is unknown, the
    // record read back is this run's only if it carries that name (two runs of one id on one runner
    // can start in the same millisecond).
    const creating = executionFor({
      created: false,
      record: { ...record, leaseOwner: `${env.owner}/${newSagaId()}` },
    });
    emitStarted(run);
    const result = await creating.forward(signal);
    if (!creating.lostCreation) return result;
    // Another run created this saga first; this run's started event is answered below.
    return resubmit(run, true);
  }
  // The first step's write-ahead intent rides with the saga's creation: one durable write, not two.
  const intents = [{ step: first.name, type: EntryType.Intent, attempt: 1, at: now }];
  try {
    const created = await callWithDeadline(env.clock, env.timeoutMs, undefined, () =>
      env.log.create(record, intents),
    );
    if (created.status === "error") throw created.error;
    if (created.status !== "ok") {
      throw new SagaLogError(
        "io",
        sagaId,
        `The saga log did not answer within ${env.timeoutMs} ms.`,
      );
    }
  } catch (error) {
    if (SagaLogError.is(error) && error.reason === "exists") {
      return resubmit(run);
    }
    return fail({
      code: ErrorCode.LogFailed,
      message: `The saga log could not record saga "${sagaId}" (${messageOf(error)}); nothing was run.`,
      sagaId,
      cause: error,
    });
  }
  const execution = executionFor({ created: true, firstIntentRecorded: true });
  emitStarted(run);
  return execution.forward(signal);
}

/**
 * A run submitted again with the id of an existing saga: the same input resumes it (or returns the
 * outcome already recorded), so a client's retry never does the work twice; another input is refused.
 */
async function resubmit(run: Submission, announced = false): Promise<DriveResult> {
  const { env, sagaId, signal } = run;
  const loaded = await loadResubmitted(run);
  if (!loaded.ok) return loaded.result;
  const ended = recordedOutcome(run, loaded.snapshot, announced);
  if (ended !== undefined) return ended;
  let token: number | undefined;
  try {
    token = await env.log.acquireLease(sagaId, env.owner, env.leaseTtlMs, env.clock.now());
  } catch (error) {
    return fail({
      code: ErrorCode.LogFailed,
      message: `The saga log could not lease saga "${sagaId}" to resume it: ${messageOf(error)}.`,
      sagaId,
      cause: error,
    });
  }
  // What was loaded before the lease may be stale: recovery (or another resubmission) can have
  // driven the saga, even to its end, in between. Only what the log holds under the lease counts.
  const current = await loadResubmitted(run);
  if (!current.ok) return current.result;
  const endedMeanwhile = recordedOutcome(run, current.snapshot, announced);
  if (endedMeanwhile !== undefined) {
    if (token !== undefined) await env.log.releaseLease(sagaId, token).catch(() => {});
    return endedMeanwhile;
  }
  if (token === undefined || current.snapshot.record.fencingToken !== token) {
    return fail({
      code: ErrorCode.SagaExists,
      message: `Saga "${sagaId}" is being run by ${current.snapshot.record.leaseOwner ?? "another runner"} right now; try again after its lease (${env.leaseTtlMs} ms) lapses.`,
      sagaId,
    });
  }
  const badOutput = invalidLoggedOutput(run.saga.steps, current.snapshot.entries);
  if (badOutput !== undefined) {
    // Driving it would hand the later steps an output of the wrong shape, or probe again a step the
    // log says committed: a person must look at what the log holds.
    const quarantined = await env.log
      .quarantine(sagaId, badOutput, env.clock.now())
      .then(() => "it was quarantined")
      .catch((error: unknown) => `quarantining it failed too (${messageOf(error)})`);
    await env.log.releaseLease(sagaId, token).catch(() => {});
    return fail({
      code: ErrorCode.RecordCorrupt,
      message: `Saga "${sagaId}" has an invalid log record at \`${badOutput.field}\`; ${quarantined} and nothing was run. ${badOutput.message}`,
      sagaId,
      field: badOutput.field,
    });
  }
  emitStarted(run);
  return executionOf(run, current.snapshot, token).resume(signal);
}

type Loaded =
  | { readonly ok: true; readonly snapshot: SagaSnapshot }
  | { readonly ok: false; readonly result: DriveResult };

/** Reads a resubmitted saga and checks it is the same saga with the same input. */
async function loadResubmitted(run: Submission): Promise<Loaded> {
  const { env, saga, sagaId, raw } = run;
  let snapshot: SagaSnapshot | undefined;
  try {
    snapshot = await env.log.load(sagaId);
  } catch (error) {
    if (SagaLogError.is(error) && error.reason === "corrupt") {
      return {
        ok: false,
        result: fail({
          code: ErrorCode.RecordCorrupt,
          message: `Saga "${sagaId}" exists but its log record is invalid: ${error.message}`,
          sagaId,
          field: error.field ?? "(record)",
        }),
      };
    }
    return {
      ok: false,
      result: fail({
        code: ErrorCode.LogFailed,
        message: `The saga log could not read saga "${sagaId}": ${messageOf(error)}.`,
        sagaId,
        cause: error,
      }),
    };
  }
  if (snapshot === undefined) {
    return {
      ok: false,
      result: fail({
        code: ErrorCode.LogFailed,
        message: `Saga "${sagaId}" vanished from the log while being resubmitted.`,
        sagaId,
        cause: undefined,
      }),
    };
  }
  const record = snapshot.record;
  const sameSaga = JSON.stringify(record.definition) === JSON.stringify(saga.definition);
  if (!sameSaga || JSON.stringify(record.input) !== JSON.stringify(raw)) {
    return {
      ok: false,
      result: fail({
        code: ErrorCode.SagaExists,
        message: `A saga with id "${sagaId}" already exists with ${sameSaga ? "different input" : `another definition (${record.definition.name} v${record.definition.version})`}; nothing was run.`,
        sagaId,
      }),
    };
  }
  return { ok: true, snapshot };
}

function executionOf(run: Submission, snapshot: SagaSnapshot, token: number): Execution {
  return new Execution({
    env: run.env,
    saga: run.saga,
    sagaId: run.sagaId,
    input: run.parsed,
    token,
    status: snapshot.record.status,
    entries: snapshot.entries,
  });
}

/** The outcome a saga that has ended already recorded, returned again; `undefined` while it runs. */
function recordedOutcome(
  run: Submission,
  snapshot: SagaSnapshot,
  announced: boolean,
): DriveResult | undefined {
  const { env, saga, sagaId } = run;
  const record = snapshot.record;
  if (!TERMINAL_STATUSES.includes(record.status)) return undefined;
  // A run that already announced itself ends on the status the saga's record holds, so a listener
  // that opened something on its saga.started (a span) sees it end.
  if (announced) {
    const reason = record.attention?.reason;
    emitEvent(env, {
      type: "saga.status",
      sagaId,
      saga: saga.name,
      at: env.clock.now(),
      status: record.status,
      ...(reason === undefined ? {} : { reason }),
    });
  }
  const replay = () => executionOf(run, snapshot, record.fencingToken);
  switch (record.status) {
    case SagaStatus.Completed:
      return { ok: true, report: replay().report() };
    case SagaStatus.Compensated:
      return fail(replay().interruptedError());
    default: {
      const attention = record.attention ?? {
        reason: AttentionReason.CorruptRecord,
        step: "",
        message: "the saga is quarantined",
      };
      return fail({
        code: ErrorCode.NeedsAttention,
        message: `Saga "${sagaId}" needs attention at step "${attention.step}": ${attention.message}`,
        sagaId,
        step: attention.step,
        reason: attention.reason,
        report: replay().report(),
      });
    }
  }
}

function emitStarted({ env, saga, sagaId }: Submission): void {
  emitEvent(env, {
    type: "saga.started",
    sagaId,
    saga: saga.name,
    at: env.clock.now(),
    recovery: false,
  });
}
