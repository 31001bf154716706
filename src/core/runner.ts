import { errAsync, ResultAsync } from "neverthrow";
import type { z } from "zod";
import { MemorySagaLog } from "../log/memory-log.js";
import type { SagaLog } from "../log/saga-log.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { type Clock, systemClock } from "./clock.js";
import { type CompensationPolicy, checkCompensationPolicy } from "./compensation-policy.js";
import { ErrorCode, type InputIssue, lockstepError, type SagaError } from "./errors.js";
import type { EventListener, Logger } from "./events.js";
import { attachExecutionEnv, DEFAULT_TIMEOUT_MS, type ExecutionEnv } from "./execution-env.js";
import { assertExplained } from "./explain.js";
import { newSagaId } from "./ids.js";
import { messageOf } from "./message-of.js";
import type { CompletedReport } from "./report.js";
import { DEFAULT_RETRY, type RetryPolicy, resolveRetry } from "./retry.js";
import type { Saga } from "./saga.js";
import { signalProblem } from "./signal-option.js";
import { startSaga } from "./start-saga.js";
import { assertOutboxSupported } from "./step-messages.js";
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
  /**
   * How compensations are retried and timed, for every compensatable step that sets no
   * `compensation` of its own (a step that sets some values takes the rest from here). Values left
   * unset come from each step's `retry` and `timeoutMs`, then from this runner's.
   * @default none: each compensation is retried and timed like its step's execute
   * @example { retry: { attempts: 10, maxDelayMs: 60_000 }, timeoutMs: 30_000 }
   */
  readonly compensation?: CompensationPolicy;
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
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
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
  const compensation =
    options.compensation === undefined
      ? undefined
      : checkCompensationPolicy("compensation", options.compensation);
  // Each saga is explained once per runner; a definition never changes after build().
  const explained = new WeakSet<object>();
  const env: ExecutionEnv = Object.freeze({
    log: options.log ?? new MemorySagaLog(),
    clock: options.clock ?? systemClock,
    owner,
    leaseTtlMs,
    timeoutMs,
    retry: resolveRetry("retry", options.retry, DEFAULT_RETRY),
    compensation,
    random: options.random ?? Math.random,
    onEvent: options.onEvent,
    logger: options.logger,
  });
  const runner: Runner = {
    owner,
    log: env.log,
    run<Schema extends z.ZodType, Outputs>(
      saga: Saga<Schema, Outputs>,
      input: z.input<Schema>,
      runOptions: RunOptions = {},
    ): ResultAsync<CompletedReport<Outputs>, SagaError> {
      const erased = saga as unknown as Saga;
      if (!explained.has(erased)) {
        assertOutboxSupported(erased, env.log);
        if (strict) assertExplained(erased, { log: env.log });
        explained.add(erased);
      }
      const prepared = prepare(erased, input, runOptions);
      if (!prepared.ok) return errAsync(prepared.error);
      const { sagaId, parsed, raw } = prepared;
      return ResultAsync.fromSafePromise(
        startSaga({ env, saga: erased, sagaId, raw, parsed, signal: runOptions.signal }),
      ).andThen((result) =>
        result.ok
          ? ResultAsync.fromSafePromise(Promise.resolve(result.report as CompletedReport<Outputs>))
          : errAsync(result.error),
      );
    },
  };
  // The recoverer drives sagas with the same environment; it is no part of the public `Runner`.
  return Object.freeze(attachExecutionEnv(runner, env));
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
  const signal = signalProblem(options.signal);
  if (signal !== undefined) {
    return {
      ok: false,
      error: lockstepError({ code: ErrorCode.InvalidOptions, message: signal, option: "signal" }),
    };
  }
  const parsed = saga.input.safeParse(input);
  if (!parsed.success) {
    const issues: InputIssue[] = parsed.error.issues.map((issue) => ({
      path: issue.path.map(String).join("."),
      message: issue.message,
    }));
    return {
      ok: false,
      error: lockstepError({
        code: ErrorCode.InvalidInput,
        message: invalidInputMessage(saga.name, issues),
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

/** One sentence naming every issue of an invalid input, each at its path. */
function invalidInputMessage(saga: string, issues: readonly InputIssue[]): string {
  const at = (issue: InputIssue | undefined) =>
    `\`${issue?.path || "(root)"}\`: ${issue?.message ?? "invalid"}`;
  const where =
    issues.length <= 1
      ? `at ${at(issues[0])}`
      : `in ${issues.length} places: ${issues.map(at).join("; ")}`;
  return `The input of saga "${saga}" is invalid ${where}. Nothing was written.`;
}
