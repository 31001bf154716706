import type { CheckedPrune } from "../../log/operations-rules.js";
import type { ClaimedSaga, SagaChange, SagaFilter } from "../../log/saga-log.js";
import type { OperatorEvent } from "../../model/operator-event.js";
import type { NewOutboxMessage } from "../../model/outbox.js";
import type {
  NewStepEntry,
  SagaRecord,
  SagaSnapshot,
  SagaStatus,
  StepEntry,
} from "../../model/records.js";
import type { OperationsStatements } from "./operations-statements.js";
import type { OutboxRow, OutboxStatements, Statement } from "./outbox-statements.js";

/** Whether a driver answers at once (better-sqlite3, bun:sqlite) or with promises (pg, mysql2). */
export type AnswerKind = "sync" | "async";

/** What an operation of a driver of `Kind` returns: the value itself, or a promise of it. */
export type Answer<Kind extends AnswerKind, T> = Kind extends "sync" ? T : Promise<T>;

/**
 * A saga's header as it stands after a write or create that committed, or as a load read it: what
 * {@link SagaLogOperations.fastWrite} needs to write the next change without reading the row first.
 */
export interface WrittenSaga {
  /** The validated header, as the locking `write` would read it back from the row. */
  readonly record: SagaRecord;
  /** Exactly the text stored in the `record` column. */
  readonly recordText: string;
  /** The highest entry number stored (0 when there are none). */
  readonly lastSeq: number;
}

/** A loaded saga, with what a dialect that writes in one statement needs to write to it next. */
export interface LoadedSaga {
  readonly snapshot: SagaSnapshot;
  /** Present when the dialect has {@link SagaLogOperations.fastWrite}. */
  readonly written?: WrittenSaga;
}

/**
 * The saga log's statements in one dialect: each `SagaLog` operation, run through `sql` (the log's
 * own statement runner, or a transaction handle's for co-commit). Arguments arrive checked and
 * records validated; the operations build their statements from the shared row mapping
 * (`saga-rows.ts`) and the log's write rules (`planWrite`, `lockstep`'s `checkWrite`,
 * `applyChange`, `numberEntries`), and throw `SagaLogError` for every refusal.
 *
 * What each must guarantee, whatever its SQL:
 *
 * - `create` inserts the header only if no saga has its id (`exists` otherwise) and its entries only
 *   if the header was inserted, atomically;
 * - `write` runs inside a transaction and holds the saga's row from the read it checks the fencing
 *   token against until the transaction ends (`SELECT … FOR UPDATE`; nothing more where the
 *   transaction already holds the database's write lock), so the refusals are exact: `not_found`,
 *   `corrupt`, `stale_token`, `status_mismatch`;
 * - the lease operations and `claimRecoverable` work on the indexed columns alone, by
 *   compare-and-set, so a corrupt body never stops a claim; `load`, `list` and `quarantine` behave
 *   as `SagaLog` documents; `prune` deletes each saga with its entries, atomically;
 * - `pruneRecorded` deletes what `prune` would but a saga whose lease is held, and records the
 *   operator's event, in one transaction (or one atomic batch): both or neither.
 *
 * @typeParam Sql the dialect's statement runner
 * @typeParam Kind whether its operations answer at once or with promises
 */
export interface SagaLogOperations<Sql, Kind extends AnswerKind> {
  /** Returns what was written when the dialect has {@link SagaLogOperations.fastWrite}. */
  create(
    sql: Sql,
    record: SagaRecord,
    entries: readonly NewStepEntry[],
    messages: readonly NewOutboxMessage[],
  ): Answer<Kind, WrittenSaga | undefined>;
  /** The locking write; returns what was written when the dialect has `fastWrite`. */
  write(
    sql: Sql,
    sagaId: string,
    token: number,
    change: SagaChange,
  ): Answer<Kind, WrittenSaga | undefined>;
  /**
   * Optional: applies a change in one autocommit statement, on the assumption that the row still
   * holds `prior`, and changes nothing (returning `undefined`) whenever the row shows otherwise, so
   * the log takes the locking `write`. A dialect with it gets the log's remembered headers.
   */
  fastWrite?(
    sql: Sql,
    sagaId: string,
    token: number,
    change: SagaChange,
    prior: WrittenSaga,
  ): Answer<Kind, WrittenSaga | undefined>;
  acquireLease(
    sql: Sql,
    sagaId: string,
    owner: string,
    ttlMs: number,
    now: number,
  ): Answer<Kind, number | undefined>;
  renewLease(
    sql: Sql,
    sagaId: string,
    token: number,
    ttlMs: number,
    now: number,
  ): Answer<Kind, boolean>;
  releaseLease(sql: Sql, sagaId: string, token: number): Answer<Kind, void>;
  load(sql: Sql, sagaId: string): Answer<Kind, LoadedSaga | undefined>;
  claimRecoverable(
    sql: Sql,
    owner: string,
    ttlMs: number,
    now: number,
    limit: number,
    names: readonly string[] | undefined,
  ): Answer<Kind, ClaimedSaga[]>;
  quarantine(
    sql: Sql,
    sagaId: string,
    problem: { readonly field: string; readonly message: string },
    now: number,
  ): Answer<Kind, void>;
  list(sql: Sql, filter: SagaFilter): Answer<Kind, SagaRecord[]>;
  prune(sql: Sql, before: number, statuses: readonly SagaStatus[]): Answer<Kind, number>;
  /**
   * The outbox's statements over this log's table. `create` and the locking `write` insert a
   * change's messages with them, in the same transaction (with messages, `create` runs in a
   * transaction of its own: `"lock"` access).
   */
  readonly outbox?: OutboxStatements;
  /**
   * Runs one statement and returns the rows it returns: what the shared outbox and operations run
   * on.
   */
  rows(sql: Sql, statement: Statement): Answer<Kind, OutboxRow[]>;
  /** The operations' statements over this log's tables: operator events and worker reports. */
  readonly operations: OperationsStatements;
  /**
   * An operator's prune (`SagaLog.operations.prune`): deletes the sagas `checked` names whose lease
   * is not held, with their entries, and records its event, atomically; the log runs it with
   * `"lock"` access. Returns the event as recorded.
   */
  pruneRecorded(sql: Sql, checked: CheckedPrune): Answer<Kind, OperatorEvent>;
}

/** What a locking write stores: derived from the row it read, checked and validated. */
export interface PlannedWrite {
  /** The validated header after the change. */
  readonly next: SagaRecord;
  /** The new entries, numbered and validated. */
  readonly entries: StepEntry[];
  /** Every header column but `saga_id`, in `HEADER_COLUMNS` order. */
  readonly values: unknown[];
  /** The `record` column's text, the last of `values`. */
  readonly recordText: string;
}
