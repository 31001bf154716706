import { assertInteger, assertName } from "../../core/validate.js";
import type {
  ClaimedMessage,
  DeliveryFailure,
  OutboxFilter,
  OutboxLog,
} from "../../log/outbox-log.js";
import type { OutboxRecord } from "../../model/outbox.js";
import {
  type OutboxRow,
  type OutboxStatements,
  outboxRecordOf,
  type Statement,
} from "./outbox-statements.js";
import type { LogAccess } from "./saga-log-driver.js";

/** Runs one outbox statement through the log (schema ensured, errors wrapped) and returns its rows. */
export type OutboxRunner = (access: LogAccess, statement: Statement) => Promise<OutboxRow[]>;

/**
 * The outbox of every SQL saga log: each operation one statement of {@link OutboxStatements}, run
 * through the log so it shares its schema creation and error wrapping.
 */
export class SqlOutbox implements OutboxLog {
  readonly #statements: OutboxStatements;
  readonly #run: OutboxRunner;

  constructor(statements: OutboxStatements, run: OutboxRunner) {
    this.#statements = statements;
    this.#run = run;
  }

  async claim(
    owner: string,
    ttlMs: number,
    now: number,
    limit: number,
  ): Promise<readonly ClaimedMessage[]> {
    assertName("owner", owner);
    assertInteger("ttlMs", ttlMs, 1);
    assertInteger("now", now, 0);
    assertInteger("limit", limit, 0);
    if (limit === 0) return [];
    const rows = await this.#run("write", this.#statements.claim(owner, ttlMs, now, limit));
    return rows
      .map(outboxRecordOf)
      .sort(oldestFirst)
      .map((record) => ({ record, token: record.token }));
  }

  async renew(messageId: string, token: number, ttlMs: number, now: number): Promise<boolean> {
    const rows = await this.#run("write", this.#statements.renew(messageId, token, ttlMs, now));
    return rows.length === 1;
  }

  async delivered(messageId: string, token: number, now: number): Promise<boolean> {
    const rows = await this.#run("write", this.#statements.delivered(messageId, token, now));
    return rows.length === 1;
  }

  async failed(
    messageId: string,
    token: number,
    failure: DeliveryFailure,
    _now: number,
  ): Promise<boolean> {
    const rows = await this.#run("write", this.#statements.failed(messageId, token, failure));
    return rows.length === 1;
  }

  async messages(filter: OutboxFilter = {}): Promise<readonly OutboxRecord[]> {
    if (filter.limit !== undefined) assertInteger("limit", filter.limit, 0);
    const rows = await this.#run("read", this.#statements.list(filter));
    return rows.map(outboxRecordOf);
  }

  async requeue(messageId: string, now: number): Promise<boolean> {
    const rows = await this.#run("write", this.#statements.requeue(messageId, now));
    return rows.length === 1;
  }
}

function oldestFirst(a: OutboxRecord, b: OutboxRecord): number {
  return a.createdAt - b.createdAt || (a.messageId < b.messageId ? -1 : 1);
}
