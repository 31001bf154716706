import { errAsync, ResultAsync } from "neverthrow";
import {
  ErrorCode,
  type InvalidOptionsError,
  type LogFailedError,
  lockstepError,
} from "../core/errors.js";
import { Execution } from "../core/execution.js";
import { emitEvent, executionEnvOf } from "../core/execution-env.js";
import { messageOf } from "../core/message-of.js";
import { checkRetryShape, type RetryPolicy, resolveRetry } from "../core/retry.js";
import type { Runner } from "../core/runner.js";
import type { Saga } from "../core/saga.js";
import { invalidLoggedOutput } from "../core/step-output.js";
import { assertInteger, integerMessage, isIntegerAtLeast } from "../core/validate.js";
import { SagaLogError } from "../log/saga-log.js";
import { AttentionReason } from "../model/attention-reason.js";
import { DEFINITION_MISMATCH_WAY_OUT, describeDefinitionDiff } from "../model/definition-diff.js";
import {
  type OperatorAction,
  operatorEntry,
  type SagaSnapshot,
  SagaStatus,
} from "../model/records.js";
import { compensationGiveUp, type GiveUp, stuckReason } from "./give-up.js";
import { recoveryAttempts } from "./recovery-attempts.js";
import type { RecoveredSaga, RecoveryOutcome, RecoveryReport } from "./recovery-report.js";
import { sagaRegistry } from "./saga-registry.js";

/** Options of {@link createRecoverer}. */
export interface RecovererOptions {
  /**
   * The runner whose log, clock, lease, defaults and listeners recovery uses: one made by
   * `createRunner`, whose owner name goes into the leases recovery takes.
   */
  readonly runner: Runner;
  /** Every saga definition recovery may meet in the log; matched by name and version. */
  // biome-ignore lint/suspicious/noExplicitAny: a registry holds sagas of every input and output type.
  readonly sagas: readonly Saga<any, any>[];
  /**
   * How many times recovery tries one saga before it ends `needs_attention`.
   * @default 10
   */
  readonly maxAttempts?: number;
  /**
   * The backoff between recovery attempts on one saga.
   * @default { initialDelayMs: 1000, maxDelayMs: 300000, factor: 2, jitter: 0.5 }
   */
  readonly backoff?: Partial<
    Pick<RetryPolicy, "initialDelayMs" | "maxDelayMs" | "factor" | "jitter">
  >;
}

/** Options of one recovery pass. */
export interface RecoverOptions {
  /**
   * The most sagas one pass claims.
   * @default 100
   */
  readonly limit?: number;
  /**
   * How many claimed sagas are driven at once.
   * @default 1
   */
  readonly concurrency?: number;
}

export type { RecoveredSaga, RecoveryOutcome, RecoveryReport } from "./recovery-report.js";

/** Finishes or unwinds the sagas a crash, a timeout or a lost lease left behind. */
export interface Recoverer {
  /**
   * One pass: claims recoverable sagas whose lease expired (compare-and-set, fencing token +1),
   * probes their in-doubt steps, rolls each forward past its pivot or compensates it before, and
   * reports. Idempotent: a second pass right after changes nothing more. Safe with many recoverers
   * on one log: a saga is driven only by the holder of its current lease.
   */
  recover(
    options?: RecoverOptions,
  ): ResultAsync<RecoveryReport, LogFailedError | InvalidOptionsError>;
  /**
   * Recovers one saga now, whether or not its next attempt is due (an operator's "try again"):
   * takes its lease by compare-and-set (fencing token + 1) and drives it as a pass would. Resolves to
   * `undefined`, changing nothing, when the lease cannot be taken: another runner holds it, or the
   * saga has ended. With `operator`, an operator entry saying who asked is written under the new
   * token before anything runs.
   */
  recoverSaga(
    sagaId: string,
    options?: { readonly operator?: OperatorAction },
  ): ResultAsync<RecoveredSaga | undefined, LogFailedError>;
}

const OUTCOMES: readonly RecoveryOutcome[] = [
  "completed",
  "compensated",
  "needs_attention",
  "in_doubt",
  "incomplete",
  "compensating",
  "quarantined",
  "lease_lost",
  "failed",
];

/**
 * Creates a recoverer over a runner's log.
 *
 * @example
 * ```ts
 * const recoverer = createRecoverer({ runner, sagas: [createBounty, claimBounty] });
 * const report = await recoverer.recover();
 * ```
 */
export function createRecoverer(options: RecovererOptions): Recoverer {
  const env = executionEnvOf(options.runner);
  const maxAttempts = options.maxAttempts ?? 10;
  assertInteger("maxAttempts", maxAttempts, 1);
  checkRetryShape("backoff", options.backoff, ["initialDelayMs", "maxDelayMs", "factor", "jitter"]);
  const backoff = resolveRetry("backoff", {
    attempts: maxAttempts,
    initialDelayMs: 1_000,
    maxDelayMs: 300_000,
    factor: 2,
    jitter: 0.5,
    ...options.backoff,
  });
  const registry = sagaRegistry(options.sagas);
  const attempts = recoveryAttempts({ env, maxAttempts, backoff });

  const quarantine = async (
    sagaId: string,
    saga: string | undefined,
    field: string,
    message: string,
  ): Promise<RecoveredSaga> => {
    await env.log.quarantine(sagaId, { field, message }, env.clock.now());
    return {
      sagaId,
      saga,
      outcome: "quarantined",
      error: lockstepError({
        code: ErrorCode.RecordCorrupt,
        message: `Saga "${sagaId}" has an invalid log record at \`${field}\`; it was quarantined and recovery left it alone. ${message}`,
        sagaId,
        field,
      }),
    };
  };

  const recoverOne = async (sagaId: string, token: number): Promise<RecoveredSaga> => {
    let snapshot: SagaSnapshot | undefined;
    try {
      snapshot = await env.log.load(sagaId);
    } catch (error) {
      if (SagaLogError.is(error) && error.reason === "corrupt") {
        return quarantine(sagaId, undefined, error.field ?? "(record)", error.message);
      }
      throw error;
    }
    if (snapshot === undefined) return { sagaId, saga: undefined, outcome: "failed" };
    const { record } = snapshot;
    const name = record.definition.name;
    const saga = registry.get(`${name}@${record.definition.version}`);
    const mismatch =
      saga === undefined
        ? `no definition of saga "${name}" version ${record.definition.version} was given to the recoverer`
        : JSON.stringify(saga.definition) !== JSON.stringify(record.definition)
          ? `the log's definition of saga "${name}" version ${record.definition.version} differs from the one given to the recoverer (${describeDefinitionDiff(record.definition, saga.definition) ?? "in field order"}); ${DEFINITION_MISMATCH_WAY_OUT}`
          : undefined;
    if (saga === undefined || mismatch !== undefined) {
      return attention(sagaId, name, token, AttentionReason.DefinitionMismatch, mismatch ?? "");
    }
    const input = saga.input.safeParse(record.input);
    if (!input.success) {
      return attention(
        sagaId,
        name,
        token,
        AttentionReason.CorruptRecord,
        `its logged input no longer satisfies the input schema (${input.error.issues[0]?.message ?? "invalid"})`,
      );
    }
    const badOutput = invalidLoggedOutput(saga.steps, snapshot.entries);
    if (badOutput !== undefined) {
      return quarantine(sagaId, name, badOutput.field, badOutput.message);
    }
    emit(sagaId, name);
    const execution = new Execution({
      env,
      saga,
      sagaId,
      input: input.data,
      token,
      status: record.status,
      entries: snapshot.entries,
    });
    const result = await execution.recover();
    if (result.ok) return { sagaId, saga: name, outcome: "completed", report: result.report };
    const error = result.error;
    const report = "report" in error ? error.report : execution.report();
    const later = (outcome: RecoveryOutcome, reason: AttentionReason, giveUp?: GiveUp) =>
      attempts.count({
        sagaId,
        name,
        token,
        previous: record.recoveryAttempts,
        outcome,
        report,
        error,
        reason,
        ...(giveUp === undefined ? {} : { giveUp }),
      });
    switch (error.code) {
      case ErrorCode.StepFailed:
      case ErrorCode.Cancelled:
        if (report.status === SagaStatus.Compensated)
          return { sagaId, saga: name, outcome: "compensated", report, error };
        return later(
          "compensating",
          AttentionReason.CompensationFailed,
          compensationGiveUp(error, execution.stuckCompensation),
        );
      case ErrorCode.InDoubt:
        return later("in_doubt", AttentionReason.InDoubtExhausted);
      case ErrorCode.Incomplete:
        return later("incomplete", AttentionReason.ForwardFailed);
      case ErrorCode.NeedsAttention:
        return { sagaId, saga: name, outcome: "needs_attention", report, error };
      case ErrorCode.LeaseLost:
        return { sagaId, saga: name, outcome: "lease_lost", report, error };
      default:
        // The drive itself failed (the log refused a write): counted like any other attempt, so a
        // saga that keeps failing is handed to a person instead of being claimed again forever.
        return later("failed", stuckReason(report.status));
    }
  };

  const attention = async (
    sagaId: string,
    name: string,
    token: number,
    reason: AttentionReason,
    detail: string,
  ): Promise<RecoveredSaga> => {
    const message = `Saga "${sagaId}" cannot be recovered: ${detail}.`;
    const now = env.clock.now();
    await env.log.write(sagaId, token, {
      status: SagaStatus.NeedsAttention,
      attention: { reason, step: "", message },
      releaseLease: true,
      now,
    });
    return {
      sagaId,
      saga: name,
      outcome: "needs_attention",
      error: lockstepError({
        code: ErrorCode.NeedsAttention,
        message,
        sagaId,
        step: "",
        reason,
        report: {
          sagaId,
          saga: name,
          status: SagaStatus.NeedsAttention,
          steps: [],
          outputs: {},
          attention: { reason, step: "", message },
        },
      }),
    };
  };

  const emit = (sagaId: string, saga: string) =>
    emitEvent(env, { type: "saga.started", sagaId, saga, at: env.clock.now(), recovery: true });

  const recoverClaimed = async (sagaId: string, token: number): Promise<RecoveredSaga> => {
    try {
      return await recoverOne(sagaId, token);
    } catch (error) {
      // One saga's failure never stops the others; the lease lapses and a later pass retries
      // it, after the backoff this failure counts toward.
      return SagaLogError.is(error) && error.reason === "stale_token"
        ? {
            sagaId,
            saga: undefined,
            outcome: "lease_lost",
            error: lockstepError({
              code: ErrorCode.LogFailed,
              message: `Recovering saga "${sagaId}" failed: ${messageOf(error)}.`,
              sagaId,
              cause: error,
            }),
          }
        : await attempts.countThrown(sagaId, token, error);
    }
  };

  const pass = async (limit: number, concurrency: number): Promise<RecoveryReport> => {
    const names = [...new Set(options.sagas.map((saga) => saga.name as string))];
    const claimed = await env.log.claimRecoverable(
      env.owner,
      env.leaseTtlMs,
      env.clock.now(),
      limit,
      {
        names,
      },
    );
    const results: RecoveredSaga[] = new Array(claimed.length);
    let next = 0;
    const worker = async () => {
      while (next < claimed.length) {
        const index = next++;
        const claim = claimed[index] as (typeof claimed)[number];
        results[index] = await recoverClaimed(claim.sagaId, claim.token);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, claimed.length) }, worker));
    const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<
      RecoveryOutcome,
      number
    >;
    for (const r of results) counts[r.outcome]++;
    return { claimed: claimed.length, sagas: results, counts };
  };

  const one = async (
    sagaId: string,
    operator: OperatorAction | undefined,
  ): Promise<RecoveredSaga | undefined> => {
    const now = env.clock.now();
    const token = await env.log.acquireLease(sagaId, env.owner, env.leaseTtlMs, now);
    if (token === undefined) return undefined;
    if (operator !== undefined) {
      await env.log.write(sagaId, token, { entries: [operatorEntry(operator, now)], now });
    }
    return recoverClaimed(sagaId, token);
  };

  return Object.freeze({
    recoverSaga(
      sagaId: string,
      sagaOptions: { readonly operator?: OperatorAction } = {},
    ): ResultAsync<RecoveredSaga | undefined, LogFailedError> {
      return ResultAsync.fromPromise(one(sagaId, sagaOptions.operator), (error) =>
        lockstepError({
          code: ErrorCode.LogFailed,
          message: `Saga "${sagaId}" could not be claimed for recovery: ${messageOf(error)}.`,
          sagaId,
          cause: error,
        }),
      );
    },
    recover(
      passOptions: RecoverOptions = {},
    ): ResultAsync<RecoveryReport, LogFailedError | InvalidOptionsError> {
      const limit = passOptions.limit ?? 100;
      const concurrency = passOptions.concurrency ?? 1;
      for (const [option, value] of [
        ["limit", limit],
        ["concurrency", concurrency],
      ] as const) {
        if (!isIntegerAtLeast(value, 1)) {
          return errAsync(
            lockstepError({
              code: ErrorCode.InvalidOptions,
              message: integerMessage(option, 1, value),
              option,
            }),
          );
        }
      }
      return ResultAsync.fromPromise(pass(limit, concurrency), (error) =>
        lockstepError({
          code: ErrorCode.LogFailed,
          message: `A recovery pass could not claim sagas from the log: ${messageOf(error)}.`,
          cause: error,
        }),
      );
    },
  });
}
