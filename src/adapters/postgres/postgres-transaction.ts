import type { PoolClient, QueryConfig, QueryResult } from "pg";
import type { AbortWatch } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import { QueuedTransaction } from "../sql/queued-transaction.js";
import type { SqlDialect } from "../sql/sql-dialect.js";
import { type SqlTransaction, scopeBehind, type TransactionScope } from "../sql/sql-transaction.js";
import { postgresDialect } from "./postgres-dialect.js";
import type { PostgresQueryResult, PostgresTransactionHandle } from "./postgres-handle.js";
import { normalizeResult } from "./statements.js";

/** Runs SQL inside a transaction scope, with that scope's checks; what the saga log co-commits through. */
export type ScopedSql = <T>(
  sql: string,
  params?: readonly unknown[],
) => Promise<PostgresQueryResult<T>>;

/** What `pg` answers a query with: one result, or one per statement of a multi-statement string. */
type PgResult = QueryResult | QueryResult[];

type Scope = TransactionScope<SqlTransaction<PostgresTransactionHandle, ScopedSql>>;

const HANDLE_SCOPE = Symbol.for("lockstep.postgres.transaction-scope");

/**
 * One open Postgres transaction on the pooled connection it owns. The savepoint scopes, checks and
 * statement queue are the SQL core's; this adds `pg`'s query call and the `query` handle.
 */
export class PostgresTransaction extends QueuedTransaction<
  PostgresTransactionHandle,
  ScopedSql,
  PgResult
> {
  readonly handle: PostgresTransactionHandle;
  readonly #client: PoolClient;

  constructor(storeId: string, client: PoolClient, abort: AbortWatch) {
    super(storeId, abort);
    this.#client = client;
    this.handle = this.handleFor(this.root);
  }

  protected override get dialect(): SqlDialect {
    return postgresDialect;
  }

  /** Stores with one id are one database: that is what a log's `storeId` promises. */
  override get database(): string {
    return this.storeId;
  }

  protected override send(
    sql: string,
    params: readonly unknown[] | undefined,
    extra?: unknown,
  ): Promise<PgResult> {
    if (extra !== undefined) {
      return this.#client.query({
        ...(extra as DriverOptions),
        text: sql,
        ...(params === undefined ? {} : { values: [...params] }),
      }) as unknown as Promise<PgResult>;
    }
    // Text and values rather than a config object, which pg would copy property by property.
    return this.#client.query(
      sql,
      params === undefined ? undefined : [...params],
    ) as unknown as Promise<PgResult>;
  }

  /** One statement through `scope`, with `pg` options, answered with `pg`'s own result. */
  statementFor(
    scope: Scope,
    sql: string,
    params: readonly unknown[] | undefined,
    options: DriverOptions,
  ): Promise<QueryResult> {
    return this.statement(scope, sql, params, options) as Promise<QueryResult>;
  }

  override sqlFor(scope: Scope): ScopedSql {
    return <T>(sql: string, params?: readonly unknown[]) =>
      this.statement(scope, sql, params).then(normalizeResult<T>);
  }

  protected override handleFor(scope: Scope): PostgresTransactionHandle {
    const handle: PostgresTransactionHandle = {
      query: <T>(sql: string, params?: readonly unknown[]) =>
        this.statement(scope, sql, params).then(normalizeResult<T>),
      savepoint: <T>(fn: (inner: PostgresTransactionHandle) => Promise<T>) =>
        this.savepoint(scope, fn),
    };
    Object.defineProperty(handle, HANDLE_SCOPE, { value: scope });
    return Object.freeze(handle);
  }
}

/**
 * What a query may carry besides its text and values, as `pg` takes it: an ORM's row mode, type
 * parsers and prepared-statement name.
 */
export type DriverOptions = Pick<QueryConfig, "name" | "types"> & { readonly rowMode?: "array" };

/**
 * Runs one statement through a transaction handle's scope, with every check the handle makes and
 * `options` passed to `pg`, resolving with `pg`'s own result: how an ORM's session writes inside a
 * lockstep transaction. Anything but a transaction handle is refused.
 */
export function queryThrough(
  handle: PostgresTransactionHandle,
  sql: string,
  params: readonly unknown[] | undefined,
  options: DriverOptions,
): Promise<QueryResult> {
  const scope = postgresScopeOf(handle);
  if (scope === undefined) {
    return Promise.reject(
      new StoreError("not_committed", "Expected a Postgres transaction handle; nothing was sent."),
    );
  }
  return scope.context.statementFor(scope, sql, params, options);
}

/**
 * Gives `target` (an ORM's transaction object) the scope of the lockstep transaction handle `from`,
 * so the saga log accepts it for co-commit as it accepts the handle itself.
 */
export function lendPostgresScope(target: object, from: PostgresTransactionHandle): void {
  Object.defineProperty(target, HANDLE_SCOPE, { value: postgresScopeOf(from) });
}

/** The transaction scope behind a handle, or `undefined` for anything else (a root handle). */
export function postgresScopeOf(
  handle: unknown,
): TransactionScope<PostgresTransaction> | undefined {
  return scopeBehind<PostgresTransaction>(handle, HANDLE_SCOPE);
}
