import type { z } from "zod";
import { AttentionReason } from "../model/attention-reason.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import {
  firstIssuePath,
  type NewStepEntry,
  type SagaRecord,
  type SagaStatus,
  SCHEMA_VERSION,
  type StepEntry,
  stepEntrySchema,
  TERMINAL_STATUSES,
} from "../model/records.js";
import {
  type SagaChange,
  type SagaFilter,
  SagaLogError,
  type SagaOrder,
  sagaOrderOf,
} from "./saga-log.js";

/**
 * Validates a saga record or step entry against its schema (`sagaRecordSchema`, `stepEntrySchema`)
 * and returns the parsed value. A failure throws `SagaLogError("corrupt")` whose `field` is the
 * dotted path of the first invalid field, which is what the runner quarantines a saga with.
 *
 * Call it on every record a log writes (before the write, so nothing invalid becomes durable) and on
 * every record it reads back (so a record damaged at rest is reported, never acted on).
 *
 * @example
 * ```ts
 * declare const stored: string; // the record's JSON text, as your store kept it
 * const record = validateLogRecord(sagaRecordSchema, JSON.parse(stored), sagaId);
 * ```
 */
export function validateLogRecord<S extends z.ZodType>(
  schema: S,
  value: unknown,
  sagaId: string,
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const field = firstIssuePath(parsed.error);
    throw new SagaLogError(
      "corrupt",
      sagaId,
      `A log record of saga "${sagaId}" is invalid at \`${field}\`: ${parsed.error.issues[0]?.message ?? "invalid"}.`,
      { field, cause: parsed.error },
    );
  }
  return parsed.data;
}

/**
 * The entries a write appends, made whole and validated: the first numbered `last + 1` (`last` is
 * the highest number the saga holds, 0 for none), each carrying the schema version, the saga id and
 * the writer's fencing token. Throws `SagaLogError("corrupt")` naming the field of an invalid entry.
 *
 * Call it in `create` (with `last` 0 and the record's fencing token) and in `write`, after
 * {@link checkWrite}, so every log numbers and stamps entries the same way.
 *
 * @example
 * ```ts
 * declare const token: number;
 * declare const change: SagaChange;
 * declare const lastSeq: number; // the highest entry number the saga holds
 * const entries = numberEntries(sagaId, token, lastSeq, change.entries ?? []);
 * ```
 */
export function numberEntries(
  sagaId: string,
  token: number,
  last: number,
  entries: readonly NewStepEntry[],
): StepEntry[] {
  return entries.map((entry, i) =>
    validateLogRecord(
      stepEntrySchema,
      { ...entry, schemaVersion: SCHEMA_VERSION, sagaId, seq: last + i + 1, token },
      sagaId,
    ),
  );
}

/**
 * Refuses a write the saga's current record does not allow: `SagaLogError("stale_token")` when
 * `token` is not the record's fencing token (another runner owns the saga now), and
 * `SagaLogError("status_mismatch")` when `change.expectStatus` is given and does not include the
 * record's status, and `SagaLogError("version_mismatch")` when `change.expectSeq` is given and is not
 * `lastSeq`, the sequence number of the saga's last entry (0 for none).
 *
 * Call it in `write` on the record as it stands in the log, read in the same atomic step as the
 * write itself (inside the transaction, under the row lock), before anything is changed.
 *
 * @example
 * ```ts
 * declare const current: SagaRecord; // read under the row lock
 * declare const token: number;
 * declare const change: SagaChange;
 * declare const lastSeq: number; // the highest entry number, read in the same step
 * checkWrite(current, token, change, lastSeq);
 * const next = applyChange(current, change);
 * ```
 */
export function checkWrite(
  record: SagaRecord,
  token: number,
  change: SagaChange,
  lastSeq: number,
): void {
  if (record.fencingToken !== token) {
    throw new SagaLogError(
      "stale_token",
      record.sagaId,
      `Saga "${record.sagaId}" is now owned under fencing token ${record.fencingToken}; a write with token ${token} was refused.`,
    );
  }
  if (change.expectStatus && !change.expectStatus.includes(record.status)) {
    throw new SagaLogError(
      "status_mismatch",
      record.sagaId,
      `Saga "${record.sagaId}" is ${record.status}, not ${change.expectStatus.join(" or ")}; the write was refused.`,
    );
  }
  if (change.expectSeq !== undefined && change.expectSeq !== lastSeq) {
    throw new SagaLogError(
      "version_mismatch",
      record.sagaId,
      `Saga "${record.sagaId}" has changed since the writer read it (its last entry is number ${lastSeq}, the write expected ${change.expectSeq}); the write was refused.`,
    );
  }
}

/**
 * The saga record after `change`: its status (a new status clears `attention` unless the change sets
 * one), the lease cleared when `change.releaseLease`, the recovery attempt counters, and `updatedAt`
 * set to `change.now`. It checks nothing; validate the result before storing it.
 *
 * Call it in `write` after {@link checkWrite}, so every log derives the next record the same way.
 *
 * @example
 * ```ts
 * declare const current: SagaRecord;
 * declare const change: SagaChange;
 * const next = validateLogRecord(sagaRecordSchema, applyChange(current, change), sagaId);
 * ```
 */
export function applyChange(record: SagaRecord, change: SagaChange): SagaRecord {
  return {
    ...record,
    status: change.status ?? record.status,
    attention: change.attention ?? (change.status === undefined ? record.attention : null),
    leaseOwner: change.releaseLease ? null : record.leaseOwner,
    leaseExpiresAt: change.releaseLease ? null : record.leaseExpiresAt,
    recoveryAttempts: change.recovery?.attempts ?? record.recoveryAttempts,
    nextRecoveryAt: change.recovery?.nextAt ?? record.nextRecoveryAt,
    fencingToken: change.fence ? record.fencingToken + 1 : record.fencingToken,
    updatedAt: change.now,
  };
}

/**
 * Whether a saga's lease can be taken at `now`: the saga has not ended, and nobody holds its lease or
 * the lease expired at or before `now`. An ended saga is never leased: whoever drove it from a
 * snapshot taken before it ended would take it backwards.
 *
 * Call it in `acquireLease` and `claimRecoverable`, inside the same compare-and-set that takes the
 * lease (a SQL log states the same rule in its `WHERE` clause).
 *
 * @example
 * ```ts
 * declare const record: SagaRecord;
 * const takeable = isLeaseFree(record, Date.now());
 * ```
 */
export function isLeaseFree(record: SagaRecord, now: number): boolean {
  if (TERMINAL_STATUSES.includes(record.status)) return false;
  return record.leaseOwner === null || (record.leaseExpiresAt ?? 0) <= now;
}

/**
 * Returns `statuses` after checking that every one is terminal; otherwise throws a
 * `LockstepDefinitionError` naming the live ones, because pruning a live saga would lose work in
 * flight.
 *
 * Call it at the start of `prune`, before deleting anything.
 *
 * @example
 * ```ts
 * declare const statuses: readonly SagaStatus[] | undefined;
 * const prunable = prunableStatuses(statuses ?? PRUNABLE_STATUSES);
 * ```
 */
export function prunableStatuses(statuses: readonly SagaStatus[]): readonly SagaStatus[] {
  const live = statuses.filter((status) => !TERMINAL_STATUSES.includes(status));
  if (live.length > 0) {
    throw new LockstepDefinitionError(
      `Only terminal sagas can be pruned; ${live.map((s) => `"${s}"`).join(", ")} ${live.length === 1 ? "is" : "are"} not terminal.`,
    );
  }
  return statuses;
}

const REASONS: readonly string[] = Object.values(AttentionReason);

/**
 * Checks a {@link SagaFilter} and returns the order it asks for: `limit` a non-negative integer,
 * `since`, `until` and `before.time` integers, `before.sagaId` a string, `attention` known reasons,
 * `orderBy` a known order. Throws a `LockstepDefinitionError` naming the first bad value.
 *
 * Call it at the start of `list`, before reading anything, so every log refuses the same filters.
 *
 * @example
 * ```ts
 * declare const filter: SagaFilter;
 * const order = checkListFilter(filter); // "created" or "updated"
 * ```
 */
export function checkListFilter(filter: SagaFilter): SagaOrder {
  const order = sagaOrderOf(filter);
  const integer = (name: string, value: unknown, min: number) => {
    if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= min)) {
      throw new LockstepDefinitionError(
        `Expected \`${name}\` to be an integer >= ${min}, got ${JSON.stringify(value) ?? String(value)}.`,
      );
    }
  };
  integer("limit", filter.limit, 0);
  integer("since", filter.since, Number.MIN_SAFE_INTEGER);
  integer("until", filter.until, Number.MIN_SAFE_INTEGER);
  if (filter.before !== undefined) {
    integer("before.time", filter.before.time, Number.MIN_SAFE_INTEGER);
    if (typeof filter.before.sagaId !== "string") {
      throw new LockstepDefinitionError(
        `Expected \`before.sagaId\` to be a string, got ${JSON.stringify(filter.before.sagaId) ?? String(filter.before.sagaId)}.`,
      );
    }
  }
  for (const reason of filter.attention ?? []) {
    if (!REASONS.includes(reason)) {
      throw new LockstepDefinitionError(
        `Expected \`attention\` to hold reasons among ${REASONS.join(", ")}, got ${JSON.stringify(reason) ?? String(reason)}.`,
      );
    }
  }
  return order;
}

/**
 * Whether `record` passes `filter` (every condition but `limit`), and its ordering time: the one
 * reading of a filter, for logs that filter in memory. A SQL log states the same conditions in its
 * query.
 */
export function matchesListFilter(
  record: SagaRecord,
  filter: SagaFilter,
  order: SagaOrder,
): boolean {
  const time = order === "updated" ? record.updatedAt : record.createdAt;
  if (filter.status !== undefined && !filter.status.includes(record.status)) return false;
  if (filter.name !== undefined && record.definition.name !== filter.name) return false;
  if (filter.since !== undefined && time < filter.since) return false;
  if (filter.until !== undefined && time >= filter.until) return false;
  if (filter.attention !== undefined) {
    const reason = record.attention?.reason;
    if (reason === undefined || !filter.attention.includes(reason)) return false;
  }
  if (filter.before !== undefined) {
    const { time: t, sagaId } = filter.before;
    if (!(time < t || (time === t && record.sagaId < sagaId))) return false;
  }
  return true;
}
