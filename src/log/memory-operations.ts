import type { OperatorEvent } from "../model/operator-event.js";
import type { WorkerStatus } from "../model/worker-status.js";
import type {
  OperationsLog,
  OperatorEventFilter,
  OperatorPrune,
  WorkerFilter,
} from "./operations-log.js";
import {
  type CheckedPrune,
  checkOperatorPrune,
  operationsLimit,
  prunedEvent,
  readOperatorEvent,
  validateWorkerStatus,
} from "./operations-rules.js";
import { SagaLogError } from "./saga-log.js";

/** What a memory prune deleted and left: the ids deleted, and how many it left for their lease. */
export interface MemoryPruned {
  readonly deleted: readonly string[];
  readonly skipped: number;
}

/**
 * The operator events and worker reports of a {@link MemorySagaLog}, kept as JSON text as a durable
 * log would keep them. Its prune deletes through the log (`prune`, given by the log), and records
 * the event in the same synchronous step, so nothing runs between the two.
 */
export class MemoryOperations implements OperationsLog {
  /** Each event's JSON text by its id, which is unique, as a durable log's key makes it. */
  readonly #events = new Map<string, string>();
  readonly #workers = new Map<string, string>();
  readonly #prune: (checked: CheckedPrune) => MemoryPruned;

  constructor(prune: (checked: CheckedPrune) => MemoryPruned) {
    this.#prune = prune;
  }

  async prune(request: OperatorPrune): Promise<OperatorEvent> {
    const checked = checkOperatorPrune(request);
    const { eventId } = checked.event;
    if (this.#events.has(eventId)) {
      throw new SagaLogError(
        "exists",
        "",
        `An operator event with id "${eventId}" is already recorded; nothing was pruned.`,
      );
    }
    const { deleted, skipped } = this.#prune(checked);
    for (const [workerId, text] of this.#workers) {
      if (validateWorkerStatus(JSON.parse(text)).heartbeatAt < checked.before) {
        this.#workers.delete(workerId);
      }
    }
    const ids = [...deleted].sort();
    const event = prunedEvent(checked, ids, ids.length, skipped);
    this.#events.set(eventId, JSON.stringify(event));
    return event;
  }

  async events(filter: OperatorEventFilter = {}): Promise<readonly OperatorEvent[]> {
    const limit = operationsLimit(filter.limit);
    return [...this.#events.values()]
      .map((text) => readOperatorEvent(JSON.parse(text)))
      .sort((a, b) => b.at - a.at || (a.eventId < b.eventId ? 1 : -1))
      .slice(0, limit);
  }

  async reportWorker(status: WorkerStatus): Promise<void> {
    const valid = validateWorkerStatus(status);
    this.#workers.set(valid.workerId, JSON.stringify(valid));
  }

  async workers(filter: WorkerFilter = {}): Promise<readonly WorkerStatus[]> {
    const limit = operationsLimit(filter.limit);
    return [...this.#workers.values()]
      .map((text) => validateWorkerStatus(JSON.parse(text)))
      .sort((a, b) => b.heartbeatAt - a.heartbeatAt || (a.workerId < b.workerId ? -1 : 1))
      .slice(0, limit);
  }
}
