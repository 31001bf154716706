import { applyChange, checkWrite, numberEntries, validateLogRecord } from "../../log/log-rules.js";
import {
  type SagaChange,
  type SagaFilter,
  SagaLogError,
  SagaOrder,
  sagaOrderOf,
} from "../../log/saga-log.js";
import { SagaStatus, sagaRecordSchema, TERMINAL_STATUSES } from "../../model/records.js";
import type { PlannedWrite } from "./saga-log-operations.js";
import { HEADER_COLUMNS, headerValues, recordOf, type SagaRow } from "./saga-rows.js";
import type { SqlDialect } from "./sql-dialect.js";

/**
 * What a locking write stores, from the row it read under its lock and the highest entry number
 * the saga holds: the row's record (throwing `corrupt`), checked against the writer's token and the
 * change's expected status, then the change applied and validated with its new entries, in the
 * order every log refuses in.
 */
export function planWrite(
  row: SagaRow,
  last: number,
  token: number,
  change: SagaChange,
): PlannedWrite {
  const sagaId = row.saga_id;
  const record = recordOf(row);
  checkWrite(record, token, change, last);
  const entries = numberEntries(sagaId, token, last, change.entries ?? []);
  const next = validateLogRecord(sagaRecordSchema, applyChange(record, change), sagaId);
  const [, ...values] = headerValues(next);
  return { next, entries, values, recordText: values[values.length - 1] as string };
}

/** `count` placeholders from the `from`-th: `?, ?, ?` or `$4, $5, $6`. */
function placeholderList(dialect: SqlDialect, from: number, count: number): string {
  return Array.from({ length: count }, (_, i) => dialect.placeholder(from + i)).join(", ");
}

/**
 * Inserts a whole header unless a saga with its id exists; its parameters are the header's
 * values, first to last (`headerValues`). A taken id inserts nothing (`"ignore"`), or fails the
 * statement on the `saga_id` key (`"fail"`), so that a batch holding it applies nothing.
 */
export function insertHeaderSql(
  dialect: SqlDialect,
  sagas: string,
  onTaken: "ignore" | "fail" = "ignore",
): string {
  const insert = `INSERT INTO ${sagas} (${HEADER_COLUMNS.join(", ")}) VALUES (${placeholderList(dialect, 1, HEADER_COLUMNS.length)})`;
  return onTaken === "fail"
    ? insert
    : `${insert}
       ON CONFLICT (saga_id) DO NOTHING`;
}

/**
 * Reads a saga's row, with the highest entry number it holds as `last_seq`, and locks it for the
 * rest of the transaction: what a locking write reads before {@link planWrite}. Its parameters are
 * the saga id, twice.
 */
export function lockedRowSql(dialect: SqlDialect, sagas: string, entries: string): string {
  return `SELECT *, (SELECT coalesce(max(seq), 0) FROM ${entries} WHERE saga_id = ${dialect.placeholder(1)}) AS last_seq
       FROM ${sagas} WHERE saga_id = ${dialect.placeholder(2)}${dialect.lockRows}`;
}

/**
 * `name = ?, …, record = ?`: every header column but `saga_id`, its placeholders numbered from
 * `from`, for an update whose parameters are a {@link PlannedWrite}'s `values`.
 */
export function headerAssignments(dialect: SqlDialect, from: number): string {
  return HEADER_COLUMNS.slice(1)
    .map((column, i) => `${column} = ${dialect.placeholder(from + i)}`)
    .join(", ");
}

const TERMINAL_STATUS_LIST = TERMINAL_STATUSES.map((status) => `'${status}'`).join(", ");

/**
 * Whether a saga's lease is free at `now` (a placeholder), as a condition on its columns: the same
 * rule as `isLeaseFree`, an ended saga included.
 */
export function leaseIsFree(now: string): string {
  return `(status NOT IN (${TERMINAL_STATUS_LIST}) AND (lease_owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at <= ${now}))`;
}

const ALL_STATUSES: readonly SagaStatus[] = Object.freeze(Object.values(SagaStatus));

/**
 * The `list` query for `filter`, newest first by the time `filter.orderBy` names (ties by saga id,
 * descending); `undefined` when the filter admits no saga.
 *
 * A page of several statuses (every status, when neither a status, a name nor an attention reason
 * narrows it) is the union of one page per status, each read in order from the index that starts
 * with the status and the time (`sagas_by_status`, `sagas_updated`), then merged: so no index by
 * time alone is needed, and a saga's write maintains two indexes fewer. There are few statuses, and
 * each branch stops after a page.
 */
export function listStatement(
  dialect: SqlDialect,
  sagas: string,
  filter: SagaFilter,
): { readonly sql: string; readonly params: unknown[] } | undefined {
  if (filter.status?.length === 0 || filter.attention?.length === 0) return undefined;
  const time = sagaOrderOf(filter) === SagaOrder.Updated ? "updated_at" : "created_at";
  const order = ` ORDER BY ${time} DESC, saga_id DESC`;
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return dialect.placeholder(params.length);
  };
  const select = (status: (() => string) | undefined) => {
    const where = status === undefined ? [] : [status()];
    where.push(...listConditions(filter, time, param));
    return `SELECT * FROM ${sagas}${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""}${order}`;
  };
  const statuses =
    filter.status ??
    (filter.name === undefined && filter.attention === undefined ? ALL_STATUSES : undefined);
  const { limit } = filter;
  if (limit === undefined || statuses === undefined || statuses.length < 2 || filter.attention) {
    const { status } = filter;
    const sql = select(status && (() => dialect.anyOf("status", status, params)));
    return { sql: limit === undefined ? sql : `${sql} LIMIT ${param(limit)}`, params };
  }
  const branches = [...new Set(statuses)].map(
    (status, i) =>
      `SELECT * FROM (${select(() => `status = ${param(status)}`)} LIMIT ${param(limit)}) page_${i}`,
  );
  return { sql: `${unionAll(branches)}${order} LIMIT ${param(limit)}`, params };
}

/**
 * Selects joined by `UNION ALL`, nested in groups of at most four: D1 refuses a compound select
 * of more than five terms.
 */
function unionAll(selects: readonly string[]): string {
  if (selects.length <= 4) return selects.join(" UNION ALL ");
  const groups: string[] = [];
  for (let i = 0; i < selects.length; i += 4) {
    groups.push(`SELECT * FROM (${unionAll(selects.slice(i, i + 4))}) group_${i / 4}`);
  }
  return unionAll(groups);
}

/** The conditions of `filter` but its statuses, their values added through `param`. */
function listConditions(
  filter: SagaFilter,
  time: string,
  param: (value: unknown) => string,
): string[] {
  const where: string[] = [];
  if (filter.name !== undefined) where.push(`name = ${param(filter.name)}`);
  if (filter.since !== undefined) where.push(`${time} >= ${param(filter.since)}`);
  if (filter.until !== undefined) where.push(`${time} < ${param(filter.until)}`);
  if (filter.before !== undefined) {
    // A row-value comparison, which SQLite, Postgres and MySQL seek by index for the next page.
    where.push(
      `(${time}, saga_id) < (${param(filter.before.time)}, ${param(filter.before.sagaId)})`,
    );
  }
  if (filter.attention !== undefined) {
    // The reason sits in the JSON header, written by JSON.stringify from the validated record, so
    // its spelling is fixed: `"attention":{"reason":"…"`. Only sagas needing attention carry one.
    where.push(`status = ${param("needs_attention")}`);
    where.push(
      `(${filter.attention.map((reason) => `record LIKE ${param(`%"attention":{"reason":"${likeEscaped(reason)}"%`)} ESCAPE '!'`).join(" OR ")})`,
    );
  }
  return where;
}

/**
 * `text` with LIKE's wildcards and its escape character escaped by `!`: not a backslash, which
 * MySQL's string literals would take as their own escape, so `ESCAPE '!'` reads the same everywhere.
 */
function likeEscaped(text: string): string {
  // `!`, not a backslash: MySQL reads a backslash in a string literal as an escape of its own.
  return text.replace(/[!%_]/g, (c) => `!${c}`);
}

/** The refusal of a `create` whose saga id is taken. */
export function sagaExists(sagaId: string): SagaLogError {
  return new SagaLogError(
    "exists",
    sagaId,
    `A saga with id "${sagaId}" already exists in the log.`,
  );
}

/** The refusal of an operation on a saga the log does not hold. */
export function sagaNotFound(sagaId: string): SagaLogError {
  return new SagaLogError("not_found", sagaId, `No saga with id "${sagaId}" exists in the log.`);
}

/** The refusal of a write whose guarded update found the row under another fencing token. */
export function staleToken(sagaId: string, token: number): SagaLogError {
  return new SagaLogError(
    "stale_token",
    sagaId,
    `Saga "${sagaId}" is no longer owned under fencing token ${token}; the write was refused.`,
  );
}
