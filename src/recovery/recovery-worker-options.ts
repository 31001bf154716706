import type { Logger } from "../core/events.js";
import { assertJitter, DEFAULT_RETRY, type RetryPolicy } from "../core/retry.js";
import { assertDuration, assertInteger, describeValue } from "../core/validate.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import type { Relay } from "../outbox/relay.js";
import type { RecovererOptions, RecoverOptions } from "./recoverer.js";
import type { RecoveryWorkerListener } from "./recovery-worker-events.js";
import type { WorkerIdentity } from "./worker-status-reporter.js";

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
  /**
   * Whether the worker reports its status to the log (`log.operations.reportWorker`) after each pass
   * and once when it stops, so the console can show it: its name (the runner's `owner`), `host` and
   * `pid`, when it started, its last heartbeat, what its last pass did and its last error. One write
   * a pass. A log without `operations` gets no report; a report the log fails is logged (warn) and
   * skipped, and the worker carries on. `false` turns reports off; an object names the worker's
   * machine and process.
   *
   * @default true: reports with the process's id, where the runtime has one, and no host
   * @example `reportStatus: { host: os.hostname(), pid: process.pid }`
   */
  readonly reportStatus?: boolean | WorkerIdentity;
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
  /** Who the worker says it is in its status reports, or `undefined` when it does not report. */
  readonly identity: WorkerIdentity | undefined;
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
    identity: identityOf(options.reportStatus),
    pacing: Object.freeze({
      ...DEFAULT_RETRY,
      initialDelayMs: pollIntervalMs,
      maxDelayMs: maxPollIntervalMs,
      factor: 2,
      jitter,
    }),
  };
}

/** The identity `reportStatus` gives, checked; `undefined` when it turns reports off. */
function identityOf(report: RecoveryWorkerOptions["reportStatus"]): WorkerIdentity | undefined {
  if (report === false) return undefined;
  if (report === undefined || report === true) return {};
  if (typeof report !== "object" || report === null) {
    throw new LockstepDefinitionError(
      `Expected \`reportStatus\` to be a boolean or { host, pid }, got ${describeValue(report)}.`,
    );
  }
  const { host, pid } = report;
  if (host !== undefined && (typeof host !== "string" || host.length > 255)) {
    throw new LockstepDefinitionError(
      `Expected \`reportStatus.host\` to be a string of at most 255 characters, got ${describeValue(host)}.`,
    );
  }
  if (pid !== undefined) assertInteger("reportStatus.pid", pid, 0);
  return { ...(host === undefined ? {} : { host }), ...(pid === undefined ? {} : { pid }) };
}
