import type { AttentionReason } from "../model/attention-reason.js";
import { hasBrand } from "../model/brand.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import type { NewOutboxMessage } from "../model/outbox.js";
import type { NewStepEntry, SagaRecord, SagaSnapshot, SagaStatus } from "../model/records.js";
import type { OperationsLog } from "./operations-log.js";
import type { OutboxLog } from "./outbox-log.js";

/** Why a saga log refused or failed an operation. */
export const LogFailure = {
  /** A saga with this id already exists. */
  Exists: "exists",
  /** No saga with this id. */
  NotFound: "not_found",
  /** The writer's fencing token is not the saga's current one: another runner owns it now. */
  StaleToken: "stale_token",
  /** The saga's status was not one the write expected. */
  StatusMismatch: "status_mismatch",
  /** The saga changed since the writer read it: its entries are not the ones the write expected. */
  VersionMismatch: "version_mismatch",
  /** A record failed validation or has an unknown schema version. */
  Corrupt: "corrupt",
  /** The underlying database failed. */
  Io: "io",
} as const;

/** One of the values of {@link LogFailure}. */
export type LogFailure = (typeof LogFailure)[keyof typeof LogFailure];

const LOG_ERROR_BRAND = Symbol.for("lockstep.saga-log-error");

/** The error every saga log implementation throws, with a `reason` the runner acts on. */
export class SagaLogError extends Error {
  readonly [LOG_ERROR_BRAND] = true;
  /** What went wrong. */
  readonly reason: LogFailure;
  /** The saga concerned. */
  readonly sagaId: string;
  /** For `corrupt`: the dotted path of the invalid field. */
  readonly field: string | undefined;

  constructor(
    reason: LogFailure,
    sagaId: string,
    message: string,
    options?: { cause?: unknown; field?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SagaLogError";
    this.reason = reason;
    this.sagaId = sagaId;
    this.field = options?.field;
  }

  /** Recognizes a log error from any copy of lockstep (ESM or CJS). */
  static is(value: unknown): value is SagaLogError {
    return hasBrand(value, LOG_ERROR_BRAND);
  }
}

/** A change to one saga, applied atomically by {@link SagaLog.write}. */
export interface SagaChange {
  /** Entries to append, in order. */
  readonly entries?: readonly NewStepEntry[];
  /** The new status, if the status changes. */
  readonly status?: SagaStatus;
  /** Refuse the change (`status_mismatch`) unless the saga is in one of these statuses. */
  readonly expectStatus?: readonly SagaStatus[];
  /**
   * The saga's record version as the writer knows it: the sequence number of its last entry (0 for
   * none). Refuse the change (`version_mismatch`) unless the saga's last entry has it, so a write
   * computed from a stale snapshot never lands, even under the same fencing token and status.
   * @default no expectation
   */
  readonly expectSeq?: number;
  /** Why the saga needs attention, with `status: "needs_attention"`. */
  readonly attention?: {
    readonly reason: AttentionReason;
    readonly step: string;
    readonly message: string;
  };
  /** Releases the lease in the same write. */
  readonly releaseLease?: boolean;
  /**
   * Outbox messages to record in the same atomic write (a committed step's `publish`). Only a log
   * with {@link SagaLog.outbox} records them; the runner never hands them to one without it.
   * @default none
   */
  readonly messages?: readonly NewOutboxMessage[];
  /**
   * Starts a new attempt generation: the write raises the saga's fencing token by one, so a store
   * that keeps the highest token it has seen refuses a request of an earlier attempt that is still
   * in flight. The writer holds the lease under the new token from then on.
   */
  readonly fence?: boolean;
  /** Counts a recovery attempt and sets when the next may start. */
  readonly recovery?: { readonly attempts: number; readonly nextAt: number };
  /** The time of the change, on the runner's clock. */
  readonly now: number;
}

/** A saga claimed for recovery, with the fencing token its claimer must write with. */
export interface ClaimedSaga {
  readonly sagaId: string;
  readonly token: number;
}

/** Which sagas {@link SagaLog.claimRecoverable} may claim. */
export interface ClaimFilter {
  /**
   * Only sagas with one of these names: a recoverer claims only what it has definitions for, so
   * recoverers of different saga types can share one log.
   */
  readonly names?: readonly string[];
}

/** Which time {@link SagaLog.list} orders sagas by, newest first. */
export const SagaOrder = {
  /** When the saga was created (`createdAt`): the sagas started last come first. */
  Created: "created",
  /** When the saga last changed (`updatedAt`): the sagas that moved last come first. */
  Updated: "updated",
} as const;

/** One of the values of {@link SagaOrder}. */
export type SagaOrder = (typeof SagaOrder)[keyof typeof SagaOrder];

const SAGA_ORDERS: readonly string[] = Object.values(SagaOrder);

/** Filters for {@link SagaLog.list}. */
export interface SagaFilter {
  /** Only sagas in one of these statuses. @default every status */
  readonly status?: readonly SagaStatus[];
  /** Only sagas with this name. @default every name */
  readonly name?: string;
  /** At most this many sagas: the newest. @default all of them */
  readonly limit?: number;
  /**
   * Which time orders the list, newest first; sagas with the same time come by saga id, descending.
   * Time, not the id, because ids need not sort by time (an id derived from a request, say).
   *
   * @default "created"
   * @example `log.list({ orderBy: "updated", limit: 20 })`
   */
  readonly orderBy?: SagaOrder;
  /**
   * Keyset paging: only the sagas that come after this position in the list's order, i.e. older
   * than `time` (on the time `orderBy` names), or as old with a smaller saga id. Pass the
   * {@link cursorOf} the last saga of one page to get the next; each page costs the same however deep
   * it is, since it seeks by index rather than skipping rows.
   *
   * @default the newest saga first
   * @example `log.list({ limit: 50, before: cursorOf(lastPage.at(-1)!, "created") })`
   */
  readonly before?: SagaCursor;
  /** Only sagas whose ordering time is at or after this (milliseconds since the epoch). @default no bound */
  readonly since?: number;
  /** Only sagas whose ordering time is before this (milliseconds since the epoch). @default no bound */
  readonly until?: number;
  /**
   * Only sagas that need attention for one of these reasons (as their record states it).
   * @default any saga, whether it needs attention or not
   */
  readonly attention?: readonly AttentionReason[];
}

/** A position in a {@link SagaLog.list} order: the time it is ordered by and the saga id. */
export interface SagaCursor {
  /** The saga's ordering time: its `createdAt`, or its `updatedAt` for `orderBy: "updated"`. */
  readonly time: number;
  /** The saga's id, which breaks ties between equal times. */
  readonly sagaId: string;
}

/**
 * The position of `record` in a list ordered by `order`: pass it as `before` to get the page after it.
 *
 * @example
 * ```ts
 * const page = await log.list({ limit: 50 });
 * const next = await log.list({ limit: 50, before: cursorOf(page[page.length - 1]!, "created") });
 * ```
 */
export function cursorOf(
  record: Pick<SagaRecord, "sagaId" | "createdAt" | "updatedAt">,
  order: SagaOrder,
): SagaCursor {
  return {
    time: order === SagaOrder.Updated ? record.updatedAt : record.createdAt,
    sagaId: record.sagaId,
  };
}

/**
 * The order `filter` asks {@link SagaLog.list} for, `"created"` when it names none. Throws a
 * {@link LockstepDefinitionError} naming any other value.
 */
export function sagaOrderOf(filter: SagaFilter): SagaOrder {
  const order: unknown = filter.orderBy ?? SagaOrder.Created;
  if (typeof order !== "string" || !SAGA_ORDERS.includes(order)) {
    throw new LockstepDefinitionError(
      `Expected \`orderBy\` to be ${SAGA_ORDERS.map((o) => `"${o}"`).join(" or ")}, got ${JSON.stringify(order) ?? String(order)}.`,
    );
  }
  return order as SagaOrder;
}

/**
 * Writes a saga's entries inside a transaction of the store the log lives in, so a step's writes and
 * its log record commit together.
 */
export interface CoCommitLog<Handle = unknown> {
  /** The id of the store whose transactions can carry log writes. */
  readonly storeId: string;
  /**
   * Creates a saga record with its first entries through the transaction handle `tx`, so a saga
   * whose first steps co-commit is created in the same commit as their writes, or not at all.
   * Throws `exists` when a saga with that id exists (or is being created by a transaction that
   * then commits), which rolls the caller's transaction back with it.
   */
  create(
    tx: Handle,
    record: SagaRecord,
    entries?: readonly NewStepEntry[],
    messages?: readonly NewOutboxMessage[],
  ): Promise<void>;
  /** Applies `change` through the transaction handle `tx`; fencing is checked inside the transaction. */
  write(tx: Handle, sagaId: string, token: number, change: SagaChange): Promise<void>;
}

/**
 * The durable record of every saga: write-ahead intents, outcomes, status, and the lease with its
 * fencing token. Implementations validate records on write and on read, and throw
 * {@link SagaLogError}.
 */
export interface SagaLog {
  /**
   * Creates a saga record, leased to its creator under the record's fencing token, together with
   * its first entries (the first step's write-ahead intent) in the same atomic write, so starting a
   * saga costs one durable write, and with `messages` (a log with {@link SagaLog.outbox} only) in
   * that write too. Throws `exists`.
   */
  create(
    record: SagaRecord,
    entries?: readonly NewStepEntry[],
    messages?: readonly NewOutboxMessage[],
  ): Promise<void>;
  /**
   * Applies a change atomically: appends entries (numbered in order) and updates the status.
   * Throws `stale_token` unless `token` is the saga's current fencing token.
   */
  write(sagaId: string, token: number, change: SagaChange): Promise<void>;
  /**
   * Takes the saga's lease if it is free or expired, by compare-and-set, incrementing the fencing
   * token. Returns the new token, or `undefined` when another owner holds a live lease.
   */
  acquireLease(
    sagaId: string,
    owner: string,
    ttlMs: number,
    now: number,
  ): Promise<number | undefined>;
  /** Extends the lease if `token` is still current. Returns whether it did. */
  renewLease(sagaId: string, token: number, ttlMs: number, now: number): Promise<boolean>;
  /** Frees the lease if `token` is still current. */
  releaseLease(sagaId: string, token: number): Promise<void>;
  /** Reads a saga and its entries, validated. Throws `corrupt` naming the field. */
  load(sagaId: string): Promise<SagaSnapshot | undefined>;
  /**
   * Claims up to `limit` recoverable sagas (running, compensating or in doubt; lease free or expired;
   * due for recovery) for `owner`, each by compare-and-set on its lease; with `filter.names`, only
   * sagas of those names.
   */
  claimRecoverable(
    owner: string,
    ttlMs: number,
    now: number,
    limit: number,
    filter?: ClaimFilter,
  ): Promise<readonly ClaimedSaga[]>;
  /**
   * Marks a saga whose records failed validation as `quarantined` without reading them, so recovery
   * leaves it alone and an operator can find it. A no-op for an unknown id.
   */
  quarantine(
    sagaId: string,
    problem: { readonly field: string; readonly message: string },
    now: number,
  ): Promise<void>;
  /**
   * Lists saga records, newest first: by creation time, or by last update with
   * `filter.orderBy: "updated"` (see {@link SagaFilter}).
   */
  list(filter?: SagaFilter): Promise<readonly SagaRecord[]>;
  /**
   * Deletes sagas in `statuses` last updated before `before`, each with its entries, atomically.
   * Only terminal statuses may be pruned.
   * @param statuses @default PRUNABLE_STATUSES (completed and compensated)
   */
  prune(before: number, statuses?: readonly SagaStatus[]): Promise<number>;
  /** Present when the log lives in a transactional store and can commit inside its transactions. */
  readonly coCommit?: CoCommitLog;
  /**
   * Present when the log records outbox messages (`SagaChange.messages`) and lets relays deliver
   * them. A log without it cannot run a saga with a step that publishes.
   * @default absent
   */
  readonly outbox?: OutboxLog;
  /**
   * Present when the log keeps its own record of operations on it: operator events (a prune that
   * records who asked, in the same atomic write as its deletions) and recovery workers' status
   * reports. The console prunes only a log with it, and shows workers only when they report to it.
   * @default absent
   */
  readonly operations?: OperationsLog;
  /**
   * Whether the log survives the process: `false` for a log held in memory, whose sagas a crash
   * loses and no other process can recover. `explain` warns about a log that says `false`.
   * @default true (a log that does not say is taken to be durable)
   */
  readonly durable?: boolean;
}
