import { sleep } from "../core/clock.js";
import { executionEnvOf } from "../core/execution-env.js";
import { messageOf } from "../core/message-of.js";
import { backoffDelay } from "../core/retry.js";
import type { RelayPass } from "../outbox/relay-events.js";
import { createRecoverer, type RecoveryOutcome, type RecoveryReport } from "./recoverer.js";
import type {
  RecoveryWorkerEvent,
  RecoveryWorkerStopReason,
  RecoveryWorkerSummary,
} from "./recovery-worker-events.js";
import { type RecoveryWorkerOptions, resolveWorkerSettings } from "./recovery-worker-options.js";
import { WorkerStatusReporter } from "./worker-status-reporter.js";

/** A recoverer that keeps running: see {@link createRecoveryWorker}. */
export interface RecoveryWorker {
  /** Its name in lease records: the runner's `owner`. */
  readonly owner: string;
  /** Whether it still polls: `false` once `stop()` was called or its signal aborted. */
  readonly running: boolean;
  /**
   * Stops polling and resolves once the pass in flight (if any) has finished and every lease the
   * worker still holds is released, so other workers may take those sagas at once. Safe to call
   * again: every call resolves to the same summary.
   *
   * @example
   * ```ts
   * const worker = createRecoveryWorker({ runner, sagas: [transfer] });
   * process.once("SIGTERM", () => void worker.stop().then(() => process.exit(0)));
   * ```
   */
  stop(): Promise<RecoveryWorkerSummary>;
  /** Resolves once the worker has stopped, however it was stopped; never rejects. */
  readonly stopped: Promise<RecoveryWorkerSummary>;
}

/**
 * Starts a recovery worker: a recoverer (`createRecoverer`) that runs a pass, waits, and runs
 * another until it is stopped. It runs its first pass at once. A pass that claimed its whole
 * `limit` is followed at once; after one that claimed less it waits `pollIntervalMs`; while passes
 * find nothing or fail, each wait doubles up to `maxPollIntervalMs`. Every wait is jittered, and
 * timed on the runner's clock, so a virtual clock drives it in tests.
 *
 * `stop()` (or aborting `signal`) lets the pass in flight finish, then releases the leases the
 * worker still holds. lockstep installs no signal handler: wire `SIGTERM` to `stop()` yourself, as
 * `lockstep recover --watch` does. Progress arrives as events (`onEvent`), through the logger, and
 * as spans with {@link otelRecoveryListener}. It reports its status to the log after each pass
 * and when it stops (`reportStatus`), where the console shows it.
 *
 * Give the worker a runner of its own, with an `owner` that names it: on stopping it releases the
 * leases its passes claimed that still carry that owner.
 *
 * @example
 * ```ts
 * const worker = createRecoveryWorker({
 *   runner: createRunner({ log, owner: `recovery-${process.pid}` }),
 *   sagas: Object.values(bountySagas(ports)),
 *   pollIntervalMs: 1_000,
 *   maxPollIntervalMs: 30_000,
 * });
 * process.once("SIGTERM", () => void worker.stop());
 * ```
 */
export function createRecoveryWorker(options: RecoveryWorkerOptions): RecoveryWorker {
  const { limit, concurrency, pacing, identity } = resolveWorkerSettings(options);
  const recoverer = createRecoverer(options);
  const env = executionEnvOf(options.runner);
  const { clock, log, owner, leaseTtlMs, random } = env;
  const logger = options.logger ?? env.logger;
  const reporter =
    identity === undefined || log.operations === undefined
      ? undefined
      : new WorkerStatusReporter({
          operations: log.operations,
          owner,
          clock,
          logger,
          intervalMs: pacing.maxDelayMs,
          identity,
        });
  // Aborted to cut the wait between passes short when the worker is asked to stop.
  const wake = new AbortController();
  // The sagas recent passes claimed and left recoverable, with when their pass ended: only these
  // can still carry a lease of this worker that matters, and only until leaseTtlMs after their pass.
  const claimed = new Map<string, number>();
  const recovered: Record<RecoveryOutcome, number> = { ...NO_OUTCOMES };
  let reason: RecoveryWorkerStopReason | undefined;
  let passes = 0;
  let failedPasses = 0;

  const emit = (event: RecoveryWorkerEvent) => {
    try {
      options.onEvent?.(event);
    } catch (error) {
      logger?.error(
        { owner, error: messageOf(error) },
        "lockstep: a recovery worker listener threw",
      );
    }
  };

  const requestStop = (why: RecoveryWorkerStopReason) => {
    reason ??= why;
    wake.abort();
  };
  const onAbort = () => requestStop("aborted");
  if (options.signal?.aborted) requestStop("aborted");
  else options.signal?.addEventListener("abort", onAbort, { once: true });

  const remember = (report: RecoveryReport, at: number) => {
    for (const [sagaId, endedAt] of claimed) {
      if (endedAt + leaseTtlMs <= at) claimed.delete(sagaId);
    }
    for (const saga of report.sagas) {
      recovered[saga.outcome]++;
      // A lease on a saga that ended delays no one: only recoverable sagas are claimed.
      if (!ENDED.includes(saga.outcome)) claimed.set(saga.sagaId, at);
    }
  };

  /** Releases the leases this worker's passes left held (a drive the log failed keeps its lease). */
  const releaseHeld = async (): Promise<number> => {
    let released = 0;
    for (const sagaId of claimed.keys()) {
      try {
        const record = (await log.load(sagaId))?.record;
        const expiresAt = record?.leaseExpiresAt ?? null;
        if (record?.leaseOwner !== owner || expiresAt === null || expiresAt <= clock.now())
          continue;
        await log.releaseLease(sagaId, record.fencingToken);
        released++;
      } catch (error) {
        logger?.error(
          { owner, sagaId, error: messageOf(error) },
          "lockstep: a stopping recovery worker could not release its lease; it lapses on its own",
        );
      }
    }
    claimed.clear();
    return released;
  };

  /** One pass of the worker's relay, if it has one; `undefined` when it has none or the log failed. */
  const relayPass = async (pass: number): Promise<RelayPass | undefined> => {
    if (options.relay === undefined || reason !== undefined) return undefined;
    try {
      return await options.relay.runOnce(wake.signal);
    } catch (error) {
      logger?.warn(
        { owner, pass, error: messageOf(error) },
        "lockstep: an outbox relay pass failed; the worker tries it again next pass",
      );
      return undefined;
    }
  };

  const run = async (): Promise<RecoveryWorkerSummary> => {
    // Passes in a row that claimed nothing or failed: the wait grows with them.
    let quiet = 0;
    let failures = 0;
    while (reason === undefined) {
      const pass = ++passes;
      const startedAt = clock.now();
      const result = await recoverer.recover({ limit, concurrency });
      const relayed = await relayPass(pass);
      const at = clock.now();
      let nextPollMs: number;
      if (result.isOk()) {
        const report = result.value;
        failures = 0;
        quiet = report.claimed === 0 ? quiet + 1 : 0;
        // A full pass suggests more sagas are waiting: drain them before waiting.
        if (relayed !== undefined && relayed.claimed > 0) quiet = 0;
        nextPollMs =
          report.claimed >= limit || (relayed?.claimed ?? 0) > 0
            ? 0
            : backoffDelay(pacing, Math.max(1, quiet), random);
        remember(report, at);
        if (report.claimed > 0) {
          logger?.debug(
            { owner, pass, claimed: report.claimed, counts: report.counts },
            "lockstep: a recovery pass claimed sagas",
          );
        }
        await reporter?.passed(startedAt, at, report.claimed, report.counts);
        emit({
          type: "recovery.pass",
          owner,
          at,
          pass,
          startedAt,
          claimed: report.claimed,
          counts: report.counts,
          report,
          nextPollMs,
          ...(relayed === undefined ? {} : { relay: relayed }),
        });
      } else {
        failedPasses++;
        failures++;
        quiet++;
        nextPollMs = backoffDelay(pacing, quiet, random);
        logger?.warn(
          { owner, pass, consecutiveFailures: failures, nextPollMs, error: result.error.message },
          "lockstep: a recovery pass failed; the worker retries it with backoff",
        );
        await reporter?.failed(at, result.error);
        emit({
          type: "recovery.pass_failed",
          owner,
          at,
          pass,
          startedAt,
          error: result.error,
          consecutiveFailures: failures,
          nextPollMs,
        });
      }
      if (reason !== undefined) break;
      try {
        await sleep(clock, nextPollMs, wake.signal);
      } catch {
        break;
      }
    }
    options.signal?.removeEventListener("abort", onAbort);
    const summary: RecoveryWorkerSummary = Object.freeze({
      reason: reason ?? "stopped",
      passes,
      failedPasses,
      recovered: Object.freeze({ ...recovered }),
      released: await releaseHeld(),
    });
    const stoppedAt = clock.now();
    await reporter?.stopped(stoppedAt);
    emit({ type: "recovery.stopped", owner, at: stoppedAt, ...summary });
    return summary;
  };

  // The first pass starts on the next turn, after the caller has the worker in hand.
  const stopped = Promise.resolve().then(run);
  return Object.freeze({
    owner,
    get running() {
      return reason === undefined;
    },
    stop() {
      requestStop("stopped");
      return stopped;
    },
    stopped,
  });
}

/** Every outcome at zero; typed so that an outcome added to the recoverer must be added here. */
const NO_OUTCOMES: Readonly<Record<RecoveryOutcome, number>> = Object.freeze({
  completed: 0,
  compensated: 0,
  needs_attention: 0,
  in_doubt: 0,
  incomplete: 0,
  compensating: 0,
  quarantined: 0,
  lease_lost: 0,
  failed: 0,
});

/** Outcomes after which the saga has ended (a terminal status), so no lease on it matters. */
const ENDED: readonly RecoveryOutcome[] = [
  "completed",
  "compensated",
  "needs_attention",
  "quarantined",
];
