import type { Logger } from "../core/events.js";
import { assertJitter, DEFAULT_RETRY, type RetryPolicy } from "../core/retry.js";
import { assertDuration, assertInteger, describeValue } from "../core/validate.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import type { Relay } from "../outbox/relay.js";
import type { RecovererOptions, RecoverOptions } from "./recoverer.js";
import type { RecoveryWorkerListener } from "./recovery-worker-events.js";

/**
 * Options of {@link createRecoveryWorker}: the recoverer's (`runner`, `sagas`, `maxAttempts`,
 * `backoff`), one pass's (`limit`, `concurrency`), and how the worker paces its passes.
 */
export interface RecoveryWorkerOptions extends RecovererOptions, RecoverOptions {
  /**
   * The wait between passes while there is work, in milliseconds; also the first wait once the log
   * goes quiet or a pass fails. A pass that claimed its whole `limit` is followed at once.
   * @default 1000
   * @example 5_000
   */
  readonly pollIntervalMs?: number;
  /**
   * The longest wait between passes, in milliseconds: while passes find nothing (or fail), each
   * wait doubles from `pollIntervalMs` up to this.
   * @default 30000
   */
  readonly maxPollIntervalMs?: number;
  /**
   * The fraction of each wait that is randomized (0 = none, 1 = "full jitter"), so that workers
   * started together do not poll the log together. Uses the runner's `random`.
   * @default 0.2
   */
  readonly jitter?: number;
  /**
   * Stops the worker as {@link RecoveryWorker.stop} does: the pass in flight finishes, then the
   * leases it holds are released.
   * @default none
   */
  readonly signal?: AbortSignal;
  /**
   * An outbox relay (`createRelay` from `lockstep/outbox`) the worker runs a pass of after each of
   * its own, so one process both recovers sagas and delivers the messages they recorded. A relay
   * pass that claimed messages makes the next pass start at once; one the log fails is logged
   * (warn) and tried again next pass. Its tallies come with each `recovery.pass` event (`relay`).
   * @default none
   */
  readonly relay?: Relay;
  /** Receives the worker's events: `recovery.pass`, `recovery.pass_failed`, `recovery.stopped`. */
  readonly onEvent?: RecoveryWorkerListener;
  /**
   * Receives the worker's diagnostics: passes that recovered something (debug), failed passes
   * (warn), leases it could not release and listeners that threw (error).
   * @default the runner's logger
   */
  readonly logger?: Logger;
}

/** A worker's validated pacing. */
export interface WorkerSettings {
  readonly limit: number;
  readonly concurrency: number;
  /** The waits between passes, as a backoff from `pollIntervalMs` to `maxPollIntervalMs`. */
  readonly pacing: RetryPolicy;
}

/** Validates a worker's own options, naming the bad value; throws a definition error. */
export function resolveWorkerSettings(options: RecoveryWorkerOptions): WorkerSettings {
  const limit = options.limit ?? 100;
  const concurrency = options.concurrency ?? 1;
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  const maxPollIntervalMs = options.maxPollIntervalMs ?? Math.max(30_000, pollIntervalMs);
  const jitter = options.jitter ?? 0.2;
  assertInteger("limit", limit, 1);
  assertInteger("concurrency", concurrency, 1);
  assertDuration("pollIntervalMs", pollIntervalMs);
  assertDuration("maxPollIntervalMs", maxPollIntervalMs);
  if (maxPollIntervalMs < pollIntervalMs) {
    throw new LockstepDefinitionError(
      `Expected \`maxPollIntervalMs\` to be at least \`pollIntervalMs\` (${pollIntervalMs}), got ${describeValue(maxPollIntervalMs)}.`,
    );
  }
  assertJitter("jitter", jitter);
  if (options.relay !== undefined && typeof options.relay?.runOnce !== "function") {
    throw new LockstepDefinitionError(
      `Expected \`relay\` to be a relay made by createRelay, got ${describeValue(options.relay)}.`,
    );
  }
  return {
    limit,
    concurrency,
    pacing: Object.freeze({
      ...DEFAULT_RETRY,
      initialDelayMs: pollIntervalMs,
      maxDelayMs: maxPollIntervalMs,
      factor: 2,
      jitter,
    }),
  };
}
