import type { Pool } from "pg";
import { assertInteger, assertName, assertNumber, describeValue } from "../../core/validate.js";
import { prunableStatuses, validate } from "../../log/memory-log.js";
import {
  type ClaimedSaga,
  type CoCommitLog,
  type SagaChange,
  type SagaFilter,
  type SagaLog,
  SagaLogError,
} from "../../log/saga-log.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import {
  type NewStepEntry,
  PRUNABLE_STATUSES,
  type SagaStatus as PrunableStatus,
  type SagaRecord,
  type SagaSnapshot,
  sagaRecordSchema,
  TERMINAL_STATUSES,
} from "../../model/records.js";
import { assertPool } from "./assert-pool.js";
import type { PostgresHandle } from "./postgres-handle.js";
import { runTransaction, type TransactionSettings } from "./run-transaction.js";
import { SagaLogOperations, type Sql, type WrittenSaga } from "./saga-log-operations.js";
import { sagaLogTables } from "./saga-log-schema.js";
import { messageOf, normalizeResult, queryConfig } from "./statements.js";
import { postgresStoreId } from "./store-id.js";
import { transactionScopeOf } from "./transaction-context.js";

/** Options of {@link postgresSagaLog}. */
export interface PostgresSagaLogOptions {
  /**
   * The schema the log's tables live in; created if it does not exist. Used exactly as written
   * (quoted), so `"Billing"` and `"billing"` are different schemas.
   *
   * @default "public"
   * @example `postgresSagaLog(pool, { schema: "lockstep" })`
   */
  readonly schema?: string;
  /**
   * Prepended to the log's table names (`<prefix>sagas`, `<prefix>saga_entries`), so several logs,
   * or a log and an application's own tables, can share one schema. Letters, digits and underscores.
   *
   * @default "lockstep_"
   * @example `postgresSagaLog(pool, { tablePrefix: "billing_" })`
   */
  readonly tablePrefix?: string;
  /**
   * The id of the store whose transactions can carry this log's records (`coCommit.storeId`). Must
   * equal the `id` of the `postgresStore` on the same database for its steps to be co-committed.
   *
   * @default `postgres:<host>:<port>/<database>` from the pool's options, as `postgresStore` derives it
   * @example `postgresSagaLog(pool, { storeId: "postgres:orders" })`
   */
  readonly storeId?: string;
  /**
   * The deadline, in milliseconds, of each `write` that takes the locking path (a transaction of its
   * own, with `statement_timeout` set from it). A `write` that takes the one-statement path, and
   * every other call, is a single autocommit statement on the pool, bounded by the pool's own
   * `statement_timeout` or `query_timeout` settings if it has them.
   *
   * @default 30000
   * @example `postgresSagaLog(pool, { timeoutMs: 5000 })`
   */
  readonly timeoutMs?: number;
}

/** A saga log stored in Postgres, able to commit its records inside a `postgresStore` transaction. */
export interface PostgresSagaLog extends SagaLog {
  /**
   * Writes log records inside a transaction of a `postgresStore` on the same database (its `storeId`
   * is that store's id). The saga row is locked with `SELECT … FOR UPDATE` and the fencing token is
   * checked inside that transaction, so a step's writes and its record commit or roll back together;
   * a stale token throws `SagaLogError("stale_token")`, which rolls the step's writes back with it.
   * `tx` must be a transaction (or savepoint) handle of a store with that id.
   *
   * @example
   * ```ts
   * await store.transaction(async (tx) => {
   *   await tx.query("INSERT INTO orders (id) VALUES ($1)", [orderId]);
   *   await log.coCommit.write(tx, sagaId, token, { entries: [committedEntry], now: Date.now() });
   * }, scope);
   * ```
   */
  readonly coCommit: CoCommitLog<PostgresHandle>;
  /**
   * Creates the log's schema, tables and indexes if any is missing, and resolves once they exist.
   * Every other call does this first on its own; call it at start-up to fail fast on a database that
   * cannot be reached or written. Safe to call from many processes at once.
   *
   * @example
   * ```ts
   * await log.ensureSchema();
   * ```
   */
  ensureSchema(): Promise<void>;
}

/**
 * Opens the saga log on a `pg.Pool`, creating its tables on first use if they do not exist (`CREATE
 * TABLE IF NOT EXISTS`, serialized across processes by an advisory lock).
 *
 * Every call is one statement, except a `write` that has to take the locking path:
 *
 * - The log remembers the header of each saga it last created, wrote or loaded (its 10,000 most
 *   recent). A `write` to such a saga is one autocommit statement on the pool: it updates the header
 *   and appends the entries only if the row still has the writer's fencing token and exactly the
 *   status, schema version and stored body the log remembers, and if the last entry is still the
 *   one it remembers, so a stale token, another writer's change or a body edited behind the log's
 *   back is never overwritten.
 * - Otherwise, or when that statement changed nothing (or lost a race for an entry number), the
 *   `write` runs in a transaction of its own that locks the saga row with `SELECT … FOR UPDATE`,
 *   validates it and checks the fencing token, and refuses exactly as it would have anyway
 *   (`stale_token`, `status_mismatch`, `corrupt`, `not_found`). This path is bounded by `timeoutMs`.
 *
 * The log forgets a saga when its lease is released, when a write ends it or releases its lease,
 * when it is quarantined or pruned, and when a `coCommit` call touches it (that transaction may
 * still roll back). A record that is remembered wrongly costs a round trip, never a wrong write.
 *
 * Records are validated against the zod schemas when written and when read. Recovery selects and
 * leases sagas by indexed columns without parsing their JSON bodies, so a corrupt saga never stops
 * the others from being claimed:
 *
 * - `claimRecoverable` claims with `FOR UPDATE SKIP LOCKED` and increments each fencing token in the
 *   same statement, so recovery workers in many processes claim concurrently without waiting for one
 *   another and never claim the same saga; it reads the due sagas in order from a partial index of
 *   the recoverable ones, so finished sagas kept in the table do not slow it;
 * - `load` of a saga whose body fails validation, or whose schema version is unknown, throws
 *   `SagaLogError("corrupt")` naming the field;
 * - `quarantine` marks such a saga by its columns and keeps its body as it was, with the problem;
 * - `list` never throws for one bad row: a saga whose body cannot be read is listed as rebuilt from
 *   its columns, with no steps, `input: null` and `attention.reason` `"corrupt_record"`;
 * - `prune` deletes old terminal sagas and their entries in one statement.
 *
 * @example
 * ```ts
 * const pool = new Pool({ connectionString: process.env.DATABASE_URL });
 * const runner = createRunner({ log: postgresSagaLog(pool, { schema: "lockstep" }) });
 * ```
 */
export function postgresSagaLog(pool: Pool, options: PostgresSagaLogOptions = {}): PostgresSagaLog {
  assertPool(pool);
  const storeId = options.storeId ?? postgresStoreId(pool);
  assertName("storeId", storeId);
  const timeoutMs = options.timeoutMs ?? 30_000;
  assertInteger("timeoutMs", timeoutMs, 1);
  const tables = sagaLogTables(options.schema ?? "public", options.tablePrefix ?? "lockstep_");
  return new PostgresSagaLogImpl(pool, storeId, timeoutMs, new SagaLogOperations(tables));
}

/** How many sagas' headers a log remembers for one-statement writes; the oldest is forgotten first. */
const REMEMBERED_SAGAS = 10_000;

class PostgresSagaLogImpl implements PostgresSagaLog {
  readonly coCommit: CoCommitLog<PostgresHandle>;
  readonly #pool: Pool;
  readonly #storeId: string;
  readonly #timeoutMs: number;
  readonly #operations: SagaLogOperations;
  readonly #settings: TransactionSettings;
  readonly #sql: Sql;
  #schema: Promise<void> | undefined;
  #schemaReady = false;
  /**
   * The header of each saga this log last created, wrote or loaded, as it then stood in the row, in
   * the order they were remembered. Only a hint: the one-statement write checks it against the row.
   */
  readonly #remembered = new Map<string, WrittenSaga>();

  constructor(pool: Pool, storeId: string, timeoutMs: number, operations: SagaLogOperations) {
    this.#pool = pool;
    this.#storeId = storeId;
    this.#timeoutMs = timeoutMs;
    this.#operations = operations;
    this.#settings = { pool, storeId, begin: "BEGIN", attempts: 1, enforceDeadline: true };
    this.#sql = async <T>(sql: string, params?: readonly unknown[]) =>
      normalizeResult<T>(await this.#pool.query(queryConfig(sql, params)));
    this.coCommit = Object.freeze({
      storeId,
      create: (tx: PostgresHandle, record: SagaRecord, entries: readonly NewStepEntry[] = []) =>
        this.#coCommitCreate(tx, record, entries),
      write: (tx: PostgresHandle, sagaId: string, token: number, change: SagaChange) =>
        this.#coCommitWrite(tx, sagaId, token, change),
    });
  }

  async ensureSchema(): Promise<void> {
    try {
      await this.#ensureSchema();
    } catch (error) {
      throw this.#logError(error, "");
    }
  }

  async create(record: SagaRecord, entries: readonly NewStepEntry[] = []): Promise<void> {
    const valid = validate(sagaRecordSchema, record, record.sagaId);
    this.#forget(valid.sagaId);
    const created = await this.#call(valid.sagaId, () =>
      this.#operations.create(this.#sql, valid, entries),
    );
    this.#remember(created);
  }

  /**
   * One autocommit statement when this log remembers the saga's header and the row still matches
   * it; otherwise, or when that statement changes nothing, the locking transaction (see
   * {@link postgresSagaLog}).
   */
  async write(sagaId: string, token: number, change: SagaChange): Promise<void> {
    // Taken out while the write is in flight: a concurrent write of the same saga by this log would
    // start from the header this one is replacing, so it takes the locking way at once.
    const prior = this.#remembered.get(sagaId);
    this.#forget(sagaId);
    const written = await this.#call(sagaId, async () => {
      if (prior !== undefined) {
        const fast = await this.#operations.fastWrite(this.#sql, sagaId, token, change, prior);
        if (fast !== undefined) return fast;
      }
      return this.#transaction((sql) => this.#operations.write(sql, sagaId, token, change));
    });
    if (!change.releaseLease) this.#remember(written);
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
    return this.#call(sagaId, () =>
      this.#operations.acquireLease(this.#sql, sagaId, owner, ttlMs, now),
    );
  }

  async renewLease(sagaId: string, token: number, ttlMs: number, now: number): Promise<boolean> {
    assertInteger("ttlMs", ttlMs, 0);
    assertInteger("now", now, 0);
    return this.#call(sagaId, () =>
      this.#operations.renewLease(this.#sql, sagaId, token, ttlMs, now),
    );
  }

  async releaseLease(sagaId: string, token: number): Promise<void> {
    this.#forget(sagaId);
    await this.#call(sagaId, () => this.#operations.releaseLease(this.#sql, sagaId, token));
  }

  async load(sagaId: string): Promise<SagaSnapshot | undefined> {
    this.#forget(sagaId);
    const loaded = await this.#call(sagaId, () => this.#operations.load(this.#sql, sagaId));
    if (loaded === undefined) return undefined;
    this.#remember(loaded.written);
    return loaded.snapshot;
  }

  async claimRecoverable(
    owner: string,
    ttlMs: number,
    now: number,
    limit: number,
    filter: { readonly names?: readonly string[] } = {},
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
    return this.#call("", () =>
      this.#operations.claimRecoverable(this.#sql, owner, ttlMs, now, limit, names),
    );
  }

  async quarantine(
    sagaId: string,
    problem: { readonly field: string; readonly message: string },
    now: number,
  ): Promise<void> {
    assertInteger("now", now, 0);
    this.#forget(sagaId);
    await this.#call(sagaId, () => this.#operations.quarantine(this.#sql, sagaId, problem, now));
  }

  async list(filter: SagaFilter = {}): Promise<readonly SagaRecord[]> {
    if (filter.limit !== undefined) assertInteger("limit", filter.limit, 0);
    return this.#call("", () => this.#operations.list(this.#sql, filter));
  }

  async prune(
    before: number,
    statuses: readonly PrunableStatus[] = PRUNABLE_STATUSES,
  ): Promise<number> {
    const prunable = prunableStatuses(statuses);
    assertNumber("before", before, Number.NEGATIVE_INFINITY);
    this.#remembered.clear();
    return this.#call("", () => this.#operations.prune(this.#sql, before, prunable));
  }

  async #coCommitCreate(
    tx: PostgresHandle,
    record: SagaRecord,
    entries: readonly NewStepEntry[],
  ): Promise<void> {
    const sql = this.#scopedSql(tx);
    const valid = validate(sagaRecordSchema, record, record.sagaId);
    // The store's transaction may still roll back, so what it writes is never remembered.
    this.#forget(valid.sagaId);
    await this.#call(valid.sagaId, () => this.#operations.create(sql, valid, entries));
  }

  async #coCommitWrite(
    tx: PostgresHandle,
    sagaId: string,
    token: number,
    change: SagaChange,
  ): Promise<void> {
    const sql = this.#scopedSql(tx);
    this.#forget(sagaId);
    await this.#call(sagaId, () => this.#operations.write(sql, sagaId, token, change));
  }

  /**
   * Remembers a saga's header for the next write's one statement, unless it is terminal (nothing is
   * expected to write to it), forgetting the oldest remembered saga beyond the limit.
   */
  #remember(written: WrittenSaga): void {
    const sagaId = written.record.sagaId;
    this.#remembered.delete(sagaId);
    if (TERMINAL_STATUSES.includes(written.record.status)) return;
    this.#remembered.set(sagaId, written);
    if (this.#remembered.size > REMEMBERED_SAGAS) {
      const oldest = this.#remembered.keys().next().value;
      if (oldest !== undefined) this.#remembered.delete(oldest);
    }
  }

  #forget(sagaId: string): void {
    this.#remembered.delete(sagaId);
  }

  /** The statement runner of a transaction handle of this log's database; refuses any other. */
  #scopedSql(tx: PostgresHandle): Sql {
    const scope = transactionScopeOf(tx);
    if (scope === undefined || scope.context.storeId !== this.#storeId) {
      throw new LockstepDefinitionError(
        `Expected \`tx\` to be a transaction handle of "${this.#storeId}" (from postgresStore(pool).transaction), got ${scope === undefined ? describeValue(tx) : `a transaction handle of "${scope.context.storeId}"`}.`,
      );
    }
    return scope.sql;
  }

  /** Runs `body` in a transaction of the log's own, on a connection checked out for it. */
  async #transaction<T>(body: (sql: Sql) => Promise<T>): Promise<T> {
    const signal = AbortSignal.timeout(this.#timeoutMs);
    return runTransaction(
      this.#settings,
      (tx) => {
        const scope = transactionScopeOf(tx);
        if (scope === undefined) throw new Error("A transaction handle lost its scope.");
        return body(scope.sql);
      },
      { signal, deadline: Date.now() + this.#timeoutMs },
    );
  }

  async #call<T>(sagaId: string, body: () => Promise<T>): Promise<T> {
    try {
      await this.#ensureSchema();
      return await body();
    } catch (error) {
      throw this.#logError(error, sagaId);
    }
  }

  async #ensureSchema(): Promise<void> {
    if (this.#schemaReady) return;
    this.#schema ??= (async () => {
      if (!(await this.#operations.schemaExists(this.#sql))) {
        await this.#transaction((sql) => this.#operations.createSchema(sql));
      }
      this.#schemaReady = true;
    })();
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
      `The Postgres saga log on "${this.#storeId}" failed: ${messageOf(error)}`,
      { cause: error },
    );
  }
}
