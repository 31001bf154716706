import { errAsync, ResultAsync } from "neverthrow";
import type { z } from "zod";
import { MemorySagaLog } from "../log/memory-log.js";
import { type SagaLog, SagaLogError } from "../log/saga-log.js";
import { AttentionReason } from "../model/attention-reason.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import {
  EntryType,
  type SagaRecord,
  type SagaSnapshot,
  SagaStatus,
  SCHEMA_VERSION,
  TERMINAL_STATUSES,
} from "../model/records.js";
import { type Clock, systemClock } from "./clock.js";
import { callWithDeadline } from "./deadline.js";
import { ErrorCode, type InputIssue, lockstepError, type SagaError } from "./errors.js";
import type { EventListener, Logger } from "./events.js";
import { Execution, type ExecutionEnv, messageOf } from "./execution.js";
import { assertExplained } from "./explain.js";
import { newSagaId } from "./ids.js";
import type { CompletedReport } from "./report.js";
import { DEFAULT_RETRY, type RetryPolicy, resolveRetry } from "./retry.js";
import type { Saga } from "./saga.js";
import { isCoCommitted } from "./store.js";
import { assertDuration, assertName, describeValue } from "./validate.js";

/** Options of {@link createRunner}. Every one has a default. */
export interface RunnerOptions {
  /**
   * Where sagas are recorded. Use a durable log (SQLite, Postgres) for anything that must survive a
   * crash.
   * @default a new in-memory log
   */
  readonly log?: SagaLog;
  /**
   * The clock for deadlines, backoff and leases.
   * @default the system clock
   */
  readonly clock?: Clock;
  /**
   * This runner's name in lease records.
   * @default "runner-<ulid>"
   */
  readonly owner?: string;
  /**
   * How long a lease lasts without renewal, in milliseconds. After it lapses a recoverer may take the
   * saga over, and this runner's writes are refused. Keep it well above every step's `timeoutMs`.
   * @default 30000
   */
  readonly leaseTtlMs?: number;
  /**
   * Deadline of each call into step code, when the step sets none, in milliseconds.
   * @default 10000
   */
  readonly timeoutMs?: number;
  /** Retry policy for steps that set none; merged over {@link DEFAULT_RETRY}. */
  readonly retry?: Partial<RetryPolicy>;
  /** Receives every saga event. */
  readonly onEvent?: EventListener;
  /** Receives diagnostics. lockstep itself never prints. */
  readonly logger?: Logger;
  /**
   * Source of randomness for backoff jitter, returning a number in [0, 1).
   * @default Math.random
   */
  readonly random?: () => number;
  /**
   * Refuses to run a saga whose explain plan has gaps (a retriable step with neither a probe nor a
   * declared idempotency, a compensation with no compare-and-set guard): `run` throws a
   * {@link LockstepDefinitionError} listing them, before anything is written.
   * @default false
   */
  readonly strict?: boolean;
}

/** Options of one run. */
export interface RunOptions {
  /** Cancels the run: steps that committed before the pivot are compensated. */
  readonly signal?: AbortSignal;
  /**
   * The saga id to use, e.g. derived from a client's request id so a resubmission is recognized.
   * @default a new ULID
   */
  readonly sagaId?: string;
}

/** Runs sagas against one saga log. */
export interface Runner {
  /** This runner's name in lease records. */
  readonly owner: string;
  /** The log this runner records to. */
  readonly log: SagaLog;
  /**
   * Validates `input`, records the saga, and runs it. Resolves to the completed report, or to a
   * {@link SagaError} saying how far it got: compensated, in doubt, needing attention, …
   *
   * @example
   * ```ts
   * const result = await runner.run(transfer, { amount: 10 });
   * if (result.isErr()) console.error(result.error.code, result.error.message);
   * ```
   */
  run<Schema extends z.ZodType, Outputs>(
    saga: Saga<Schema, Outputs>,
    input: z.input<Schema>,
    options?: RunOptions,
  ): ResultAsync<CompletedReport<Outputs>, SagaError>;
  /** The execution environment, shared with the recoverer. */
  readonly env: ExecutionEnv;
}

/**
 * Creates a runner.
 *
 * @example
 * ```ts
 * const runner = createRunner({ log: new MemorySagaLog(), leaseTtlMs: 60_000 });
 * ```
 */
export function createRunner(options: RunnerOptions = {}): Runner {
  const leaseTtlMs = options.leaseTtlMs ?? 30_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  assertDuration("leaseTtlMs", leaseTtlMs);
  assertDuration("timeoutMs", timeoutMs);
  const owner = options.owner ?? `runner-${newSagaId()}`;
  assertName("owner", owner);
  const strict = options.strict ?? false;
  if (typeof strict !== "boolean") {
    throw new LockstepDefinitionError(
      `Expected \`strict\` to be a boolean, got ${describeValue(strict)}.`,
    );
  }
  // Each saga is explained once per runner; a definition never changes after build().
  const explained = new WeakSet<object>();
  const env: ExecutionEnv = Object.freeze({
    log: options.log ?? new MemorySagaLog(),
    clock: options.clock ?? systemClock,
    owner,
    leaseTtlMs,
    timeoutMs,
    retry: resolveRetry("retry", options.retry, DEFAULT_RETRY),
    random: options.random ?? Math.random,
    onEvent: options.onEvent,
    logger: options.logger,
  });
  return Object.freeze({
    owner,
    log: env.log,
    env,
    run<Schema extends z.ZodType, Outputs>(
      saga: Saga<Schema, Outputs>,
      input: z.input<Schema>,
      runOptions: RunOptions = {},
    ): ResultAsync<CompletedReport<Outputs>, SagaError> {
      const erased = saga as unknown as Saga;
      if (strict && !explained.has(erased)) {
        assertExplained(erased, { log: env.log });
        explained.add(erased);
      }
      const prepared = prepare(erased, input, runOptions);
      if (!prepared.ok) return errAsync(prepared.error);
      const { sagaId, parsed, raw } = prepared;
      return ResultAsync.fromSafePromise(
        start(env, erased, sagaId, raw, parsed, runOptions.signal),
      ).andThen((result) =>
        result.ok
          ? ResultAsync.fromSafePromise(Promise.resolve(result.report as CompletedReport<Outputs>))
          : errAsync(result.error),
      );
    },
  });
}

type Prepared =
  | { ok: true; sagaId: string; parsed: unknown; raw: unknown }
  | { ok: false; error: SagaError };

function prepare(saga: Saga, input: unknown, options: RunOptions): Prepared {
  const sagaId = options.sagaId ?? newSagaId();
  if (typeof sagaId !== "string" || sagaId.length === 0 || sagaId.length > 200) {
    return {
      ok: false,
      error: lockstepError({
        code: ErrorCode.InvalidOptions,
        message: `Expected \`sagaId\` to be a non-empty string of at most 200 characters, got ${describeValue(sagaId)}.`,
        option: "sagaId",
      }),
    };
  }
  const parsed = saga.input.safeParse(input);
  if (!parsed.success) {
    const issues: InputIssue[] = parsed.error.issues.map((issue) => ({
      path: issue.path.map(String).join("."),
      message: issue.message,
    }));
    const first = issues[0];
    return {
      ok: false,
      error: lockstepError({
        code: ErrorCode.InvalidInput,
        message: `The input of saga "${saga.name}" is invalid at \`${first?.path || "(root)"}\`: ${first?.message ?? "invalid"}. Nothing was written.`,
        saga: saga.name,
        issues,
      }),
    };
  }
  // The log keeps the raw input as JSON; recovery validates it again from there.
  let raw: unknown;
  try {
    raw = JSON.parse(JSON.stringify(input ?? null));
  } catch (error) {
    return {
      ok: false,
      error: lockstepError({
        code: ErrorCode.InvalidInput,
        message: `The input of saga "${saga.name}" cannot be stored as JSON (${messageOf(error)}). Nothing was written.`,
        saga: saga.name,
        issues: [{ path: "", message: messageOf(error) }],
      }),
    };
  }
  return { ok: true, sagaId, parsed: parsed.data, raw };
}

type StartResult = Awaited<ReturnType<Execution["forward"]>>;

async function start(
  env: ExecutionEnv,
  saga: Saga,
  sagaId: string,
  raw: unknown,
  parsed: unknown,
  signal: AbortSignal | undefined,
): Promise<StartResult> {
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
  const first = saga.steps[0] as Saga["steps"][number];
  if (isCoCommitted(first.store, env.log.coCommit?.storeId)) {
    // The first steps commit in one transaction with their log records, and that transaction
    // creates the saga's record too: a saga that crashes before it leaves nothing behind.
    const execution = new Execution(env, saga, sagaId, parsed, 1, SagaStatus.Running, [], {
      created: false,
      record,
    });
    emitStarted(env, saga, sagaId);
    const result = await execution.forward(signal);
    if (!execution.lostCreation) return result;
    // Another run created this saga first; this run's started event is answered below.
    return resume(env, saga, sagaId, raw, parsed, signal, true);
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
      return resume(env, saga, sagaId, raw, parsed, signal);
    }
    return {
      ok: false,
      error: lockstepError({
        code: ErrorCode.LogFailed,
        message: `The saga log could not record saga "${sagaId}" (${messageOf(error)}); nothing was run.`,
        sagaId,
        cause: error,
      }),
    };
  }
  const execution = new Execution(env, saga, sagaId, parsed, 1, SagaStatus.Running, [], {
    created: true,
    firstIntentRecorded: true,
  });
  emitStarted(env, saga, sagaId);
  return execution.forward(signal);
}

/**
 * A run submitted again with the id of an existing saga: the same input resumes it (or returns the
 * outcome already recorded), so a client's retry never does the work twice; another input is refused.
 */
async function resume(
  env: ExecutionEnv,
  saga: Saga,
  sagaId: string,
  raw: unknown,
  parsed: unknown,
  signal: AbortSignal | undefined,
  announced = false,
): Promise<StartResult> {
  const fail = (error: SagaError): StartResult => ({ ok: false, error: lockstepError(error) });
  let snapshot: SagaSnapshot | undefined;
  try {
    snapshot = await env.log.load(sagaId);
  } catch (error) {
    if (SagaLogError.is(error) && error.reason === "corrupt") {
      return fail({
        code: ErrorCode.RecordCorrupt,
        message: `Saga "${sagaId}" exists but its log record is invalid: ${error.message}`,
        sagaId,
        field: error.field ?? "(record)",
      });
    }
    return fail({
      code: ErrorCode.LogFailed,
      message: `The saga log could not read saga "${sagaId}": ${messageOf(error)}.`,
      sagaId,
      cause: error,
    });
  }
  const record = snapshot?.record;
  if (record === undefined || snapshot === undefined) {
    return fail({
      code: ErrorCode.LogFailed,
      message: `Saga "${sagaId}" vanished from the log while being resubmitted.`,
      sagaId,
      cause: undefined,
    });
  }
  const sameSaga = JSON.stringify(record.definition) === JSON.stringify(saga.definition);
  if (!sameSaga || JSON.stringify(record.input) !== JSON.stringify(raw)) {
    return fail({
      code: ErrorCode.SagaExists,
      message: `A saga with id "${sagaId}" already exists with ${sameSaga ? "different input" : `another definition (${record.definition.name} v${record.definition.version})`}; nothing was run.`,
      sagaId,
    });
  }
  const replay = (token: number) =>
    new Execution(env, saga, sagaId, parsed, token, record.status, snapshot.entries);
  // A run that already announced itself ends on the status the saga's record holds, so a listener
  // that opened something on its saga.started (a span) sees it end.
  if (announced && TERMINAL_STATUSES.includes(record.status)) {
    emitStatus(env, saga, sagaId, record.status, record.attention?.reason);
  }
  switch (record.status) {
    case SagaStatus.Completed:
      return { ok: true, report: replay(record.fencingToken).report() };
    case SagaStatus.Compensated:
      return fail(replay(record.fencingToken).interruptedError());
    case SagaStatus.NeedsAttention:
    case SagaStatus.Quarantined: {
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
        report: replay(record.fencingToken).report(),
      });
    }
    default: {
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
      if (token === undefined) {
        return fail({
          code: ErrorCode.SagaExists,
          message: `Saga "${sagaId}" is being run by ${record.leaseOwner ?? "another runner"} right now; try again after its lease (${env.leaseTtlMs} ms) lapses.`,
          sagaId,
        });
      }
      emitStarted(env, saga, sagaId);
      return replay(token).resume(signal);
    }
  }
}

function emitStatus(
  env: ExecutionEnv,
  saga: Saga,
  sagaId: string,
  status: SagaStatus,
  reason: AttentionReason | undefined,
): void {
  try {
    env.onEvent?.({
      type: "saga.status",
      sagaId,
      saga: saga.name,
      at: env.clock.now(),
      status,
      ...(reason === undefined ? {} : { reason }),
    });
  } catch (error) {
    env.logger?.error({ sagaId, error: messageOf(error) }, "lockstep: an event listener threw");
  }
}

function emitStarted(env: ExecutionEnv, saga: Saga, sagaId: string): void {
  try {
    env.onEvent?.({
      type: "saga.started",
      sagaId,
      saga: saga.name,
      at: env.clock.now(),
      recovery: false,
    });
  } catch (error) {
    env.logger?.error({ sagaId, error: messageOf(error) }, "lockstep: an event listener threw");
  }
}
