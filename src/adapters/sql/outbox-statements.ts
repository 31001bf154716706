import { validateLogRecord } from "../../log/log-rules.js";
import type { DeliveryFailure, OutboxFilter } from "../../log/outbox-log.js";
import { newOutboxRecord } from "../../log/outbox-rules.js";
import {
  type NewOutboxMessage,
  type OutboxRecord,
  OutboxStatus,
  outboxRecordSchema,
} from "../../model/outbox.js";
import type { SqlDialect } from "./sql-dialect.js";
import { type StatementParams, statementParams } from "./statement-params.js";

/** One statement and its parameters. */
export interface Statement {
  readonly sql: string;
  readonly params: unknown[];
}

/** An outbox row as the driver returns it (numbers may come back as strings from `bigint`). */
export type OutboxRow = Record<string, unknown>;

const COLUMNS = [
  "message_id",
  "saga_id",
  "step",
  "idx",
  "topic",
  "body",
  "status",
  "attempts",
  "next_at",
  "token",
  "lease_owner",
  "lease_expires_at",
  "last_error",
  "created_at",
  "delivered_at",
] as const;

const num = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);

/**
 * The outbox's statements in one dialect, over the log's `<prefix>saga_outbox` table: every
 * operation of `OutboxLog` as one statement (claims and marks by compare-and-set on the row's
 * status, lease and token, each returning the rows it changed), shared by every SQL log.
 */
export class OutboxStatements {
  readonly #dialect: SqlDialect;
  readonly #table: string;
  readonly #sagas: string;
  /** Locks a claim's candidates, skipping rows another claim holds, where the database can. */
  readonly #skipLocked: string;

  /** @param sagas the sagas table, which {@link OutboxStatements.forgetPruned} reads */
  constructor(dialect: SqlDialect, table: string, sagas: string) {
    this.#dialect = dialect;
    this.#table = table;
    this.#sagas = sagas;
    this.#skipLocked = dialect.lockRows === "" ? "" : `${dialect.lockRows} SKIP LOCKED`;
  }

  /** Inserts messages recorded at `now` (validated first; a duplicate id fails the statement). */
  insert(messages: readonly NewOutboxMessage[], now: number): Statement[] {
    return messages.map((message) => {
      const record = newOutboxRecord(message, now);
      const p = statementParams(this.#dialect);
      const values = [
        record.messageId,
        record.sagaId,
        record.step,
        record.index,
        record.topic,
        JSON.stringify({ message: record.message, headers: record.headers }),
        record.status,
        record.attempts,
        record.nextAt,
        record.token,
        null,
        null,
        null,
        record.createdAt,
        null,
      ].map(p.add);
      return p.statement(
        `INSERT INTO ${this.#table} (${COLUMNS.join(", ")}) VALUES (${values.join(", ")})`,
      );
    });
  }

  claim(owner: string, ttlMs: number, now: number, limit: number): Statement {
    const p = statementParams(this.#dialect);
    const free = () =>
      `status = '${OutboxStatus.Pending}' AND next_at <= ${p.add(now)} AND (lease_expires_at IS NULL OR lease_expires_at <= ${p.add(now)})`;
    const set = `token = token + 1, lease_owner = ${p.add(owner)}, lease_expires_at = ${p.add(now + ttlMs)}`;
    const candidates = `SELECT message_id FROM ${this.#table} WHERE ${free()} ORDER BY created_at, message_id LIMIT ${p.add(limit)}${this.#skipLocked}`;
    if (this.#skipLocked === "") {
      // One writer at a time (SQLite): the candidates are read once, inside the write lock.
      return p.statement(
        `UPDATE ${this.#table} SET ${set} WHERE message_id IN (${candidates}) RETURNING *`,
      );
    }
    // Locked candidates in a CTE, read once: as an IN subquery, a locking read may be evaluated
    // again for each row and, finding the rows already claimed, take the next ones past LIMIT. The
    // conditions again outside: a row changed while this claim waited is re-checked by them.
    return p.statement(
      `WITH candidates AS (${candidates}) UPDATE ${this.#table} AS claimed SET ${set} FROM candidates WHERE claimed.message_id = candidates.message_id AND ${free()} RETURNING claimed.*`,
    );
  }

  /** Changes `set` on a message the caller still holds under `token`, returning its id if it did. */
  #held(messageId: string, token: number, set: (p: StatementParams) => string): Statement {
    const p = statementParams(this.#dialect);
    const assignments = set(p);
    return p.statement(
      `UPDATE ${this.#table} SET ${assignments} WHERE message_id = ${p.add(messageId)} AND token = ${p.add(token)} AND status = '${OutboxStatus.Pending}' AND lease_owner IS NOT NULL RETURNING message_id`,
    );
  }

  renew(messageId: string, token: number, ttlMs: number, now: number): Statement {
    return this.#held(messageId, token, (p) => `lease_expires_at = ${p.add(now + ttlMs)}`);
  }

  delivered(messageId: string, token: number, now: number): Statement {
    return this.#held(
      messageId,
      token,
      (p) =>
        `status = '${OutboxStatus.Delivered}', attempts = attempts + 1, lease_owner = NULL, lease_expires_at = NULL, delivered_at = ${p.add(now)}`,
    );
  }

  failed(messageId: string, token: number, failure: DeliveryFailure): Statement {
    const status = failure.dead ? OutboxStatus.Dead : OutboxStatus.Pending;
    return this.#held(
      messageId,
      token,
      (p) =>
        `status = ${p.add(status)}, attempts = attempts + 1, next_at = ${p.add(failure.nextAt)}, lease_owner = NULL, lease_expires_at = NULL, last_error = ${p.add(failure.error)}`,
    );
  }

  list(filter: OutboxFilter): Statement {
    const p = statementParams(this.#dialect);
    const where: string[] = [];
    if (filter.sagaId !== undefined) where.push(`saga_id = ${p.add(filter.sagaId)}`);
    if (filter.status !== undefined) {
      where.push(
        filter.status.length === 0
          ? "1 = 0"
          : this.#dialect.anyOf("status", filter.status, p.params),
      );
    }
    const limit = filter.limit === undefined ? "" : ` LIMIT ${p.add(filter.limit)}`;
    return p.statement(
      `SELECT * FROM ${this.#table}${where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`} ORDER BY created_at, message_id${limit}`,
    );
  }

  requeue(messageId: string, now: number): Statement {
    const p = statementParams(this.#dialect);
    return p.statement(
      `UPDATE ${this.#table} SET status = '${OutboxStatus.Pending}', attempts = 0, next_at = ${p.add(now)} WHERE message_id = ${p.add(messageId)} AND status = '${OutboxStatus.Dead}' RETURNING message_id`,
    );
  }

  /** Deletes the delivered and dead messages of sagas no longer in the log (after a prune). */
  forgetPruned(): Statement {
    return {
      sql: `DELETE FROM ${this.#table} WHERE status <> '${OutboxStatus.Pending}' AND saga_id NOT IN (SELECT saga_id FROM ${this.#sagas}) RETURNING message_id`,
      params: [],
    };
  }
}

/** A row read back as the record it holds, validated (`SagaLogError("corrupt")` naming the field). */
export function outboxRecordOf(row: OutboxRow): OutboxRecord {
  const sagaId = String(row.saga_id);
  let body: { message?: unknown; headers?: unknown } = {};
  try {
    body = JSON.parse(String(row.body)) as typeof body;
  } catch {
    // Left empty: validation below names the field that is missing.
  }
  return validateLogRecord(
    outboxRecordSchema,
    {
      messageId: row.message_id,
      sagaId,
      step: row.step,
      index: num(row.idx),
      topic: row.topic,
      message: body.message,
      headers: body.headers,
      status: row.status,
      attempts: num(row.attempts),
      nextAt: num(row.next_at),
      token: num(row.token),
      leaseOwner: row.lease_owner ?? null,
      leaseExpiresAt: num(row.lease_expires_at),
      lastError: row.last_error ?? null,
      createdAt: num(row.created_at),
      deliveredAt: num(row.delivered_at),
    },
    sagaId,
  );
}
