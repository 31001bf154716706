import { messageOf } from "../../core/message-of.js";
import { assertInteger, assertName, assertNumber, describeValue } from "../../core/validate.js";
import { checkListFilter, prunableStatuses, validateLogRecord } from "../../log/log-rules.js";
import {
  type ClaimedSaga,
  type ClaimFilter,
  type CoCommitLog,
  type SagaChange,
  type SagaFilter,
  type SagaLog,
  SagaLogError,
} from "../../log/saga-log.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import type { OperatorEvent } from "../../model/operator-event.js";
import type { NewOutboxMessage } from "../../model/outbox.js";
import {
  type NewStepEntry,
  PRUNABLE_STATUSES,
  type SagaRecord,
  type SagaSnapshot,
  type SagaStatus,
  sagaRecordSchema,
} from "../../model/records.js";
import type { Statement } from "./outbox-statements.js";
import { RememberedSagas } from "./remembered-sagas.js";
import type { LogAccess, SagaLogDriver } from "./saga-log-driver.js";
import type {
  Answer,
  AnswerKind,
  LoadedSaga,
  SagaLogOperations,
  WrittenSaga,
} from "./saga-log-operations.js";
import { SqlOperationsLog } from "./sql-operations-log.js";
import { SqlOutbox } from "./sql-outbox.js";

/**
 * The saga log every SQL dialect shares, over a {@link SagaLogDriver}: it checks arguments,
 * validates records, creates the tables once (a failure is retried by the next call), wraps every
 * failure that is not already the log's own in `SagaLogError("io")`, and co-commits through the
 * dialect's transaction handles, refusing any other. For a dialect with a one-statement write it
 * remembers the header of each saga it last created, wrote or loaded (see {@link RememberedSagas}),
 * forgetting it when its lease is released, when a write ends it or releases its lease, when it is
 * quarantined or pruned, and when a `coCommit` call touches it (that transaction may still roll back).
 */
export class SqlSagaLog<Handle, Sql, Kind extends AnswerKind> implements SagaLog {
  readonly coCommit: CoCommitLog<Handle>;
  /**
   * The messages steps published, in `<prefix>saga_outbox`, recorded with the steps' commits; absent
   * on a log whose dialect keeps no outbox (the runner then refuses a step that publishes).
   */
  readonly outbox?: SqlOutbox;
  /**
   * Operator events, in `<prefix>operator_events`, and recovery workers' reports, in
   * `<prefix>recovery_workers`.
   */
  readonly operations: SqlOperationsLog;
  readonly #driver: SagaLogDriver<Sql, Kind>;
  readonly #ops: SagaLogOperations<Sql, Kind>;
  readonly #remembered: RememberedSagas | undefined;
  #schema: Promise<void> | undefined;
  #schemaReady = false;

  constructor(driver: SagaLogDriver<Sql, Kind>) {
    this.#driver = driver;
    this.#ops = driver.operations;
    this.#remembered = this.#ops.fastWrite === undefined ? undefined : new RememberedSagas();
    const rows = (access: LogAccess, statement: Statement) =>
      this.#call("", access, (sql) => this.#ops.rows(sql, statement));
    if (this.#ops.outbox !== undefined) this.outbox = new SqlOutbox(this.#ops.outbox, rows);
    this.operations = new SqlOperationsLog(this.#ops.operations, rows, async (checked) => {
      this.#remembered?.clear();
      const event = await this.#call<OperatorEvent>("", "lock", (sql) =>
        this.#ops.pruneRecorded(sql, checked),
      );
      await this.#forgetPruned(event.changed);
      return event;
    });
    // Not async: a synchronous driver's co-commit then resolves without waiting a turn, and a refused
    // handle or record still rejects rather than throws.
    this.coCommit = Object.freeze({
      storeId: driver.storeId,
      create: (
        tx: Handle,
        record: SagaRecord,
        entries: readonly NewStepEntry[] = [],
        messages: readonly NewOutboxMessage[] = [],
      ) => {
        let sql: Sql;
        let valid: SagaRecord;
        try {
          sql = this.#scopedSql(tx);
          valid = validateLogRecord(sagaRecordSchema, record, record.sagaId);
        } catch (error) {
          return Promise.reject(error);
        }
        return this.#coCommit(sql, valid.sagaId, () =>
          this.#ops.create(sql, valid, entries, messages),
        );
      },
      write: (tx: Handle, sagaId: string, token: number, change: SagaChange) => {
        let sql: Sql;
        try {
          sql = this.#scopedSql(tx);
        } catch (error) {
          return Promise.reject(error);
        }
        return this.#coCommit(sql, sagaId, () => this.#ops.write(sql, sagaId, token, change));
      },
    });
  }

  /**
   * Creates the log's tables and indexes if any is missing, and resolves once they exist. Every other
   * call does this first on its own.
   */
  async ensureSchema(): Promise<void> {
    try {
      await this.#ensureSchema();
    } catch (error) {
      throw this.#logError(error, "");
    }
  }

  async create(
    record: SagaRecord,
    entries: readonly NewStepEntry[] = [],
    messages: readonly NewOutboxMessage[] = [],
  ): Promise<void> {
    const valid = validateLogRecord(sagaRecordSchema, record, record.sagaId);
    this.#remembered?.forget(valid.sagaId);
    // Messages make it more than one statement: a transaction of the log's own keeps it atomic.
    const access = messages.length === 0 ? "write" : "lock";
    const created = await this.#call<WrittenSaga | undefined>(valid.sagaId, access, (sql) =>
      this.#ops.create(sql, valid, entries, messages),
    );
    if (created !== undefined) this.#remembered?.remember(created);
  }

  /**
   * One statement when the dialect has `fastWrite`, the log remembers the saga's header and the row
   * still matches it; otherwise, or when that statement changes nothing, the locking write.
   */
  async write(sagaId: string, token: number, change: SagaChange): Promise<void> {
    const remembered = this.#remembered;
    // A one-statement write carries no messages: those take the locking write.
    const prior = change.messages?.length ? undefined : remembered?.take(sagaId);
    const written =
      prior === undefined
        ? await this.#call<WrittenSaga | undefined>(sagaId, "lock", (sql) =>
            this.#ops.write(sql, sagaId, token, change),
          )
        : await this.#fastWrite(sagaId, token, change, prior);
    if (written !== undefined && !change.releaseLease) remembered?.remember(written);
  }

  async acquireLease(
    sagaId: string,
    owner: string,
    ttlMs: number,
    now: number,
  ): Promise<number | undefined> {
    assertName("owner", owner);
    assertInteger("ttlMs", ttlMs, 0);
    assertInteger("now", now, 0);
    return this.#call<number | undefined>(sagaId, "write", (sql) =>
      this.#ops.acquireLease(sql, sagaId, owner, ttlMs, now),
    );
  }

  async renewLease(sagaId: string, token: number, ttlMs: number, now: number): Promise<boolean> {
    assertInteger("ttlMs", ttlMs, 0);
    assertInteger("now", now, 0);
    return this.#call<boolean>(sagaId, "write", (sql) =>
      this.#ops.renewLease(sql, sagaId, token, ttlMs, now),
    );
  }

  async releaseLease(sagaId: string, token: number): Promise<void> {
    this.#remembered?.forget(sagaId);
    await this.#call<void>(sagaId, "write", (sql) => this.#ops.releaseLease(sql, sagaId, token));
  }

  async load(sagaId: string): Promise<SagaSnapshot | undefined> {
    this.#remembered?.forget(sagaId);
    const loaded = await this.#call<LoadedSaga | undefined>(sagaId, "read", (sql) =>
      this.#ops.load(sql, sagaId),
    );
    if (loaded === undefined) return undefined;
    if (loaded.written !== undefined) this.#remembered?.remember(loaded.written);
    return loaded.snapshot;
  }

  async claimRecoverable(
    owner: string,
    ttlMs: number,
    now: number,
    limit: number,
    filter: ClaimFilter = {},
  ): Promise<readonly ClaimedSaga[]> {
    assertName("owner", owner);
    assertInteger("ttlMs", ttlMs, 0);
    assertInteger("now", now, 0);
    assertInteger("limit", limit, 0);
    const names = filter.names;
    if (
      names !== undefined &&
      (!Array.isArray(names) || names.some((n) => typeof n !== "string"))
    ) {
      throw new LockstepDefinitionError(
        `Expected \`filter.names\` to be an array of saga names, got ${describeValue(names)}.`,
      );
    }
    return this.#call<ClaimedSaga[]>("", "write", (sql) =>
      this.#ops.claimRecoverable(sql, owner, ttlMs, now, limit, names),
    );
  }

  async quarantine(
    sagaId: string,
    problem: { readonly field: string; readonly message: string },
    now: number,
  ): Promise<void> {
    assertInteger("now", now, 0);
    this.#remembered?.forget(sagaId);
    await this.#call<void>(sagaId, "write", (sql) =>
      this.#ops.quarantine(sql, sagaId, problem, now),
    );
  }

  async list(filter: SagaFilter = {}): Promise<readonly SagaRecord[]> {
    checkListFilter(filter);
    return this.#call<SagaRecord[]>("", "read", (sql) => this.#ops.list(sql, filter));
  }

  async prune(
    before: number,
    statuses: readonly SagaStatus[] = PRUNABLE_STATUSES,
  ): Promise<number> {
    const prunable = prunableStatuses(statuses);
    assertNumber("before", before, Number.NEGATIVE_INFINITY);
    this.#remembered?.clear();
    const removed = await this.#call<number>("", "write", (sql) =>
      this.#ops.prune(sql, before, prunable),
    );
    await this.#forgetPruned(removed);
    return removed;
  }

  /** Settled messages of pruned sagas go with them; pending ones stay until a relay delivers them. */
  async #forgetPruned(removed: number): Promise<void> {
    const outbox = this.#ops.outbox;
    if (removed > 0 && outbox !== undefined) {
      await this.#call("", "write", (sql) => this.#ops.rows(sql, outbox.forgetPruned()));
    }
  }

  /** The one-statement write from `prior`, falling back to the locking write. */
  async #fastWrite(
    sagaId: string,
    token: number,
    change: SagaChange,
    prior: WrittenSaga,
  ): Promise<WrittenSaga | undefined> {
    try {
      await this.#ensureSchema();
      // Present whenever a header was remembered.
      const fast = await this.#driver.run<WrittenSaga | undefined>(
        "write",
        (sql) =>
          this.#ops.fastWrite?.(sql, sagaId, token, change, prior) as Answer<
            Kind,
            WrittenSaga | undefined
          >,
      );
      if (fast !== undefined) return fast;
      return await this.#driver.run<WrittenSaga | undefined>("lock", (sql) =>
        this.#ops.write(sql, sagaId, token, change),
      );
    } catch (error) {
      throw this.#logError(error, sagaId);
    }
  }

  /**
   * Runs `body` in the caller's transaction, whose commit or rollback decides what it wrote, so
   * nothing of it is remembered.
   */
  async #coCommit(sql: Sql, sagaId: string, body: () => Answer<Kind, unknown>): Promise<void> {
    this.#remembered?.forget(sagaId);
    try {
      if (!this.#schemaReady) {
        if (this.#driver.createSchemaIn === undefined) await this.#ensureSchema();
        else this.#driver.createSchemaIn(sql);
      }
      // Awaited only when the driver answers with a promise: a synchronous one is done already.
      const done = body();
      if (done instanceof Promise) await done;
    } catch (error) {
      throw this.#logError(error, sagaId);
    }
  }

  /** The statement runner of a transaction handle of this log's database; refuses any other. */
  #scopedSql(tx: Handle): Sql {
    const scope = this.#driver.scopeOf(tx);
    if (scope === undefined || scope.context.database !== this.#driver.database) {
      throw new LockstepDefinitionError(
        `Expected \`tx\` to be a transaction handle of "${this.#driver.storeId}" (from ${this.#driver.handleOrigin}), got ${scope === undefined ? describeValue(tx) : `a transaction handle of "${scope.context.storeId}"`}.`,
      );
    }
    return scope.context.sqlFor(scope);
  }

  async #call<T>(
    sagaId: string,
    access: LogAccess,
    body: (sql: Sql) => Answer<Kind, T>,
  ): Promise<T> {
    try {
      await this.#ensureSchema();
      return await this.#driver.run(access, body);
    } catch (error) {
      throw this.#logError(error, sagaId);
    }
  }

  async #ensureSchema(): Promise<void> {
    if (this.#schemaReady) return;
    this.#schema ??= this.#driver.createSchema().then(() => {
      this.#schemaReady = true;
    });
    try {
      await this.#schema;
    } catch (error) {
      this.#schema = undefined;
      throw error;
    }
  }

  /** The log's error for a failure: a `SagaLogError` anywhere in the chain, or `io` wrapping it. */
  #logError(error: unknown, sagaId: string): Error {
    let current: unknown = error;
    for (let depth = 0; depth < 16 && typeof current === "object" && current !== null; depth++) {
      if (SagaLogError.is(current)) return current;
      if (LockstepDefinitionError.is(current)) return current;
      current = (current as { cause?: unknown }).cause;
    }
    return new SagaLogError(
      "io",
      sagaId,
      `The ${this.#driver.dialect.name} saga log on "${this.#driver.storeId}" failed: ${messageOf(error)}`,
      { cause: error },
    );
  }
}
