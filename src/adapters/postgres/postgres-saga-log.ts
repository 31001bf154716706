import type { Pool } from "pg";
import { assertInteger } from "../../core/validate.js";
import type { CoCommitLog, SagaLog } from "../../log/saga-log.js";
import { coCommitStoreId } from "../sql/co-commit-store.js";
import { SqlSagaLog } from "../sql/sql-saga-log.js";
import { assertPool } from "./assert-pool.js";
import { assertPostgresPermissions } from "./deno-permissions.js";
import { postgresDialect } from "./postgres-dialect.js";
import type { PostgresHandle } from "./postgres-handle.js";
import { postgresScopeOf } from "./postgres-transaction.js";
import { runTransaction, type TransactionSettings } from "./run-transaction.js";
import { PostgresLogOperations, type Sql } from "./saga-log-operations.js";
import { sagaLogTables } from "./saga-log-schema.js";
import { normalizeResult, queryConfig } from "./statements.js";
import { postgresStoreId } from "./store-id.js";

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
   * The store whose transactions this log's records may ride in (co-commit): the log's
   * `coCommit.storeId` is its `id`. Declare it (or {@link PostgresSagaLogOptions.coCommitWith})
   * whenever the store has a logical id, so that co-commit never depends on how the pool spells
   * the server.
   *
   * @default none: the id `postgresStore` derives from the pool, `postgres:<host>:<port>/<database>`
   * @example `postgresSagaLog(pool, { schema: "lockstep", store: ordersStore })`
   */
  readonly store?: { readonly id: string };
  /**
   * The logical id of the store whose transactions this log's records may ride in, as the store
   * was given it (`postgresStore(pool, { id: "orders-db" })`). The same declaration as
   * {@link PostgresSagaLogOptions.store}, by id.
   *
   * @default none: the id `postgresStore` derives from the pool
   * @example `postgresSagaLog(pool, { coCommitWith: "orders-db" })`
   */
  readonly coCommitWith?: string;
  /**
   * The older name of {@link PostgresSagaLogOptions.coCommitWith}; still honoured. Declarations
   * that disagree are refused.
   *
   * @default none: the id `postgresStore` derives from the pool
   * @example `postgresSagaLog(pool, { storeId: "orders-db" })`
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
  assertPostgresPermissions(pool, "postgresSagaLog (lockstep/postgres)");
  const storeId = coCommitStoreId(options, () => postgresStoreId(pool));
  const timeoutMs = options.timeoutMs ?? 30_000;
  assertInteger("timeoutMs", timeoutMs, 1);
  const tables = sagaLogTables(options.schema ?? "public", options.tablePrefix ?? "lockstep_");
  const operations = new PostgresLogOperations(tables);
  const settings: TransactionSettings = {
    pool,
    storeId,
    begin: "BEGIN",
    attempts: 1,
    enforceDeadline: true,
  };
  // Autocommit statements on whichever pooled connection is free.
  const sql = async <T>(text: string, params?: readonly unknown[]) =>
    normalizeResult<T>(await pool.query(queryConfig(text, params)));
  // The locking write's transaction, on a connection checked out for it, bounded by `timeoutMs`.
  const transaction = <T>(body: (sql: Sql) => Promise<T>): Promise<T> =>
    runTransaction(
      settings,
      (tx) => {
        const scope = postgresScopeOf(tx);
        if (scope === undefined) throw new Error("A transaction handle lost its scope.");
        return body(scope.context.sqlFor(scope));
      },
      { signal: AbortSignal.timeout(timeoutMs), deadline: Date.now() + timeoutMs },
    );
  return new SqlSagaLog<PostgresHandle, Sql, "async">({
    dialect: postgresDialect,
    storeId,
    database: storeId,
    handleOrigin: "postgresStore(pool).transaction",
    operations,
    run: (access, body) => (access === "lock" ? transaction(body) : body(sql)),
    createSchema: async () => {
      if (!(await operations.schemaExists(sql))) {
        await transaction((inside) => operations.createSchema(inside));
      }
    },
    scopeOf: postgresScopeOf,
  });
}
