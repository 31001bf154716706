import type {
  OperationsLog,
  OperatorEventFilter,
  OperatorPrune,
  WorkerFilter,
} from "../../log/operations-log.js";
import {
  type CheckedPrune,
  checkOperatorPrune,
  operationsLimit,
  validateWorkerStatus,
} from "../../log/operations-rules.js";
import type { OperatorEvent } from "../../model/operator-event.js";
import type { WorkerStatus } from "../../model/worker-status.js";
import { eventOf, type OperationsStatements, workerOf } from "./operations-statements.js";
import type { OutboxRunner } from "./sql-outbox.js";

/**
 * The operations of every SQL saga log: events and worker reports are one statement each of
 * {@link OperationsStatements}, run through the log (schema ensured, errors wrapped); the prune is
 * the dialect's, in one transaction or atomic batch, which the log runs (`prune`).
 */
export class SqlOperationsLog implements OperationsLog {
  readonly #statements: OperationsStatements;
  readonly #run: OutboxRunner;
  readonly #prune: (checked: CheckedPrune) => Promise<OperatorEvent>;

  constructor(
    statements: OperationsStatements,
    run: OutboxRunner,
    prune: (checked: CheckedPrune) => Promise<OperatorEvent>,
  ) {
    this.#statements = statements;
    this.#run = run;
    this.#prune = prune;
  }

  async prune(request: OperatorPrune): Promise<OperatorEvent> {
    return this.#prune(checkOperatorPrune(request));
  }

  async events(filter: OperatorEventFilter = {}): Promise<readonly OperatorEvent[]> {
    const limit = operationsLimit(filter.limit);
    if (limit === 0) return [];
    return (await this.#run("read", this.#statements.events(limit))).map(eventOf);
  }

  async reportWorker(status: WorkerStatus): Promise<void> {
    await this.#run("write", this.#statements.reportWorker(validateWorkerStatus(status)));
  }

  async workers(filter: WorkerFilter = {}): Promise<readonly WorkerStatus[]> {
    const limit = operationsLimit(filter.limit);
    if (limit === 0) return [];
    return (await this.#run("read", this.#statements.workers(limit))).map(workerOf);
  }
}
