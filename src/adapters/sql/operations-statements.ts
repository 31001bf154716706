import type { CheckedPrune } from "../../log/operations-rules.js";
import { readOperatorEvent, validateWorkerStatus } from "../../log/operations-rules.js";
import { OPERATOR_EVENT_SAGA_IDS, type OperatorEvent } from "../../model/operator-event.js";
import type { WorkerStatus } from "../../model/worker-status.js";
import type { OutboxRow, Statement } from "./outbox-statements.js";
import type { SqlDialect } from "./sql-dialect.js";
import { type StatementParams, statementParams } from "./statement-params.js";

/** The tables the operations statements use, by their quoted names. */
export interface OperationsTables {
  readonly sagas: string;
  readonly entries: string;
  readonly operatorEvents: string;
  readonly workers: string;
}

/** How a dialect spells "insert, or update the row with this key": Postgres's and SQLite's, or MySQL's. */
export type UpsertSyntax = "on-conflict" | "on-duplicate-key";

/** How many sagas one statement of a pooled prune deletes. */
const PRUNE_CHUNK = 500;

/**
 * The statements of a SQL log's operations (`SagaLog.operations`) in one dialect: operator events
 * and worker reports as one JSON body a row, and the conditions of an operator's prune, which
 * deletes what `prune` would but a saga whose lease is held.
 */
export class OperationsStatements {
  readonly #dialect: SqlDialect;
  readonly #t: OperationsTables;
  readonly #upsert: UpsertSyntax;

  constructor(dialect: SqlDialect, tables: OperationsTables, upsert: UpsertSyntax) {
    this.#dialect = dialect;
    this.#t = tables;
    this.#upsert = upsert;
  }

  /** Inserts a whole event. */
  insertEvent(event: OperatorEvent): Statement {
    const p = statementParams(this.#dialect);
    return p.statement(
      `INSERT INTO ${this.#t.operatorEvents} (event_id, at, body) VALUES (${p.add(event.eventId)}, ${p.add(event.at)}, ${p.add(JSON.stringify(event))})`,
    );
  }

  /** The newest `limit` events' bodies. */
  events(limit: number): Statement {
    const p = statementParams(this.#dialect);
    return p.statement(
      `SELECT body FROM ${this.#t.operatorEvents} ORDER BY at DESC, event_id DESC LIMIT ${p.add(limit)}`,
    );
  }

  /** Keeps `status` as its worker's row, replacing the one before (returning its id where it can). */
  reportWorker(status: WorkerStatus): Statement {
    const p = statementParams(this.#dialect);
    const values = `(${p.add(status.workerId)}, ${p.add(status.heartbeatAt)}, ${p.add(JSON.stringify(status))})`;
    const upsert =
      this.#upsert === "on-duplicate-key"
        ? "ON DUPLICATE KEY UPDATE heartbeat_at = VALUES(heartbeat_at), body = VALUES(body)"
        : "ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, body = excluded.body RETURNING worker_id";
    return p.statement(
      `INSERT INTO ${this.#t.workers} (worker_id, heartbeat_at, body) VALUES ${values} ${upsert}`,
    );
  }

  /** Deletes the reports of workers last heard from before `before`. */
  forgetWorkers(before: number): Statement {
    const p = statementParams(this.#dialect);
    return p.statement(`DELETE FROM ${this.#t.workers} WHERE heartbeat_at < ${p.add(before)}`);
  }

  /** The `limit` most recent worker reports' bodies. */
  workers(limit: number): Statement {
    const p = statementParams(this.#dialect);
    return p.statement(
      `SELECT body FROM ${this.#t.workers} ORDER BY heartbeat_at DESC, worker_id LIMIT ${p.add(limit)}`,
    );
  }

  /**
   * The prune as three statements that must run in order in one transaction or atomic batch, in a
   * SQLite-flavoured database (SQLite, D1, libSQL): the event recorded first, its counts and ids read
   * by the same conditions from the rows the next two statements delete (the saga entries, then the
   * sagas); the last forgets the workers last heard from before the cut-off. The first returns the
   * event's body as recorded.
   */
  sqlitePrune(
    checked: CheckedPrune,
  ): [record: Statement, entries: Statement, sagas: Statement, workers: Statement] {
    const { sagas, entries, operatorEvents } = this.#t;
    const p = statementParams(this.#dialect);
    const head = `INSERT INTO ${operatorEvents} (event_id, at, body) VALUES (${p.add(checked.event.eventId)}, ${p.add(checked.event.at)}, json_set(${p.add(JSON.stringify(checked.event))}`;
    const changed = `'$.changed', (SELECT count(*) FROM ${sagas} WHERE ${this.#prunable(checked, p)})`;
    const skipped = `'$.skipped', (SELECT count(*) FROM ${sagas} WHERE ${this.#terminalBefore(checked, p)} AND ${this.#held(checked, p)})`;
    // The subquery's order and limit pick the ids; a subquery's JSON loses its type, so json() again.
    const ids = `'$.sagaIds', json((SELECT json_group_array(saga_id) FROM (SELECT saga_id FROM ${sagas} WHERE ${this.#prunable(checked, p)} ORDER BY saga_id LIMIT ${OPERATOR_EVENT_SAGA_IDS})))`;
    const record = p.statement(`${head}, ${changed}, ${skipped}, ${ids})) RETURNING body`);
    const e = statementParams(this.#dialect);
    const deleteEntries = e.statement(
      `DELETE FROM ${entries} WHERE saga_id IN (SELECT saga_id FROM ${sagas} WHERE ${this.#prunable(checked, e)})`,
    );
    const s = statementParams(this.#dialect);
    const deleteSagas = s.statement(`DELETE FROM ${sagas} WHERE ${this.#prunable(checked, s)}`);
    return [record, deleteEntries, deleteSagas, this.forgetWorkers(checked.before)];
  }

  /** Reads and locks the ids of the sagas an operator's prune deletes, in id order. */
  lockPrunable(checked: CheckedPrune): Statement {
    const p = statementParams(this.#dialect);
    return p.statement(
      `SELECT saga_id FROM ${this.#t.sagas} WHERE ${this.#prunable(checked, p)} ORDER BY saga_id${this.#dialect.lockRows}`,
    );
  }

  /** Counts (as `n`) the sagas an operator's prune leaves because their lease is held. */
  countHeld(checked: CheckedPrune): Statement {
    const p = statementParams(this.#dialect);
    return p.statement(
      `SELECT count(*) AS n FROM ${this.#t.sagas} WHERE ${this.#terminalBefore(checked, p)} AND ${this.#held(checked, p)}`,
    );
  }

  /**
   * Deletes the sagas `ids` with their entries, a chunk at a time: for each chunk, the entries and
   * then the sagas (whose statement's count is the number deleted).
   */
  deleteSagas(ids: readonly string[]): (readonly [Statement, Statement])[] {
    const chunks: (readonly [Statement, Statement])[] = [];
    for (let at = 0; at < ids.length; at += PRUNE_CHUNK) {
      const chunk = ids.slice(at, at + PRUNE_CHUNK);
      const e: unknown[] = [];
      const s: unknown[] = [];
      chunks.push([
        {
          sql: `DELETE FROM ${this.#t.entries} WHERE ${this.#dialect.anyOf("saga_id", chunk, e)}`,
          params: e,
        },
        {
          sql: `DELETE FROM ${this.#t.sagas} WHERE ${this.#dialect.anyOf("saga_id", chunk, s)}`,
          params: s,
        },
      ]);
    }
    return chunks;
  }

  /** Of the statuses pruned, last updated before the cut-off. */
  #terminalBefore(checked: CheckedPrune, p: StatementParams): string {
    const statuses = this.#dialect.anyOf("status", checked.statuses, p.params);
    return `${statuses} AND updated_at < ${p.add(checked.before)}`;
  }

  /** Its lease held at `now`: the same rule as `leaseHeld`. */
  #held(checked: CheckedPrune, p: StatementParams): string {
    return `(lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL AND lease_expires_at > ${p.add(checked.now)})`;
  }

  /** What an operator's prune deletes: of the statuses, old enough, its lease not held. */
  #prunable(checked: CheckedPrune, p: StatementParams): string {
    return `${this.#terminalBefore(checked, p)} AND NOT ${this.#held(checked, p)}`;
  }
}

/** An event row's body, validated (`SagaLogError("corrupt")` naming the field). */
export function eventOf(row: OutboxRow): OperatorEvent {
  return readOperatorEvent(parsed(row.body));
}

/** A worker row's body, validated (`SagaLogError("corrupt")` naming the field). */
export function workerOf(row: OutboxRow): WorkerStatus {
  return validateWorkerStatus(parsed(row.body));
}

/** The JSON a body holds, or `undefined` (which validation then names) when it holds none. */
function parsed(body: unknown): unknown {
  try {
    return JSON.parse(String(body));
  } catch {
    return undefined;
  }
}
