import type { Clock } from "../core/clock.js";
import type { Logger } from "../core/events.js";
import { messageOf } from "../core/message-of.js";
import type { OperationsLog } from "../log/operations-log.js";
import type { WorkerStatus } from "../model/worker-status.js";
import type { RecoveryOutcome } from "./recovery-report.js";

/** Who a worker says it is in its status reports, besides its name. */
export interface WorkerIdentity {
  /** The machine it runs on. @default none */
  readonly host?: string;
  /** Its process id. @default the process's id, where the runtime has one */
  readonly pid?: number;
}

/** What a worker's status reporter needs. */
export interface ReporterSetup {
  readonly operations: OperationsLog;
  readonly owner: string;
  readonly clock: Clock;
  readonly logger: Logger | undefined;
  /** The worker's longest wait between passes. */
  readonly intervalMs: number;
  readonly identity: WorkerIdentity;
}

/** The longest error message a report keeps. */
const MAX_ERROR = 2000;

/**
 * Keeps a recovery worker's status and writes it to the log (`operations.reportWorker`) after each
 * pass and once when the worker stops: one write each, so its rate is bounded by the passes'. A
 * report the log fails is given to the logger (warn) and dropped: the next pass reports again, and
 * the worker never stops or slows for it.
 */
export class WorkerStatusReporter {
  readonly #setup: ReporterSetup;
  #status: WorkerStatus;

  constructor(setup: ReporterSetup) {
    this.#setup = setup;
    const startedAt = setup.clock.now();
    const pid = setup.identity.pid ?? processId();
    this.#status = {
      workerId: setup.owner,
      host: setup.identity.host ?? null,
      pid: pid ?? null,
      startedAt,
      heartbeatAt: startedAt,
      intervalMs: setup.intervalMs,
      stoppedAt: null,
      passes: 0,
      failedPasses: 0,
      lastPass: null,
      lastError: null,
    };
  }

  /** After a pass that ran: what it claimed and how each saga ended. */
  passed(
    startedAt: number,
    at: number,
    claimed: number,
    counts: Readonly<Record<RecoveryOutcome, number>>,
  ): Promise<void> {
    const passes = this.#status.passes + 1;
    const lastPass = { startedAt, at, claimed, counts: { ...counts } };
    return this.#report({ ...this.#status, heartbeatAt: at, passes, lastPass });
  }

  /** After a pass that failed: why. */
  failed(at: number, error: unknown): Promise<void> {
    const message = messageOf(error).slice(0, MAX_ERROR);
    return this.#report({
      ...this.#status,
      heartbeatAt: at,
      passes: this.#status.passes + 1,
      failedPasses: this.#status.failedPasses + 1,
      lastError: { at, message },
    });
  }

  /** Once the worker has stopped. */
  stopped(at: number): Promise<void> {
    return this.#report({ ...this.#status, heartbeatAt: at, stoppedAt: at });
  }

  async #report(status: WorkerStatus): Promise<void> {
    this.#status = status;
    try {
      await this.#setup.operations.reportWorker(status);
    } catch (error) {
      this.#setup.logger?.warn(
        { owner: this.#setup.owner, error: messageOf(error) },
        "lockstep: a recovery worker could not report its status to the log; it reports again after its next pass",
      );
    }
  }
}

/** The process id, in a runtime that has processes (Node, Bun, Deno's Node compatibility). */
function processId(): number | undefined {
  const pid = (globalThis as { process?: { pid?: unknown } }).process?.pid;
  return typeof pid === "number" && Number.isInteger(pid) && pid >= 0 ? pid : undefined;
}
