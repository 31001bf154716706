import type { PoolConnection } from "mysql2/promise";
import type { AbortWatch } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import { messageOf } from "../../core/message-of.js";
import { QueuedTransaction } from "../sql/queued-transaction.js";
import type { SqlDialect } from "../sql/sql-dialect.js";
import { type SqlTransaction, scopeBehind, type TransactionScope } from "../sql/sql-transaction.js";
import { mysqlErrnoOf } from "./classify-mysql-error.js";
import { mysqlDialect } from "./mysql-dialect.js";
import type { MysqlQueryResult, MysqlTransactionHandle } from "./mysql-handle.js";
import {
  type MysqlDriverOptions,
  type MysqlRaw,
  normalizeResult,
  paramsOf,
  queryConfigOf,
} from "./statements.js";

/** `SERVER_STATUS_IN_TRANS`: the server's flag, on every OK packet, that a transaction is open. */
const IN_TRANSACTION = 1;

/** Runs SQL inside a transaction scope, with that scope's checks; what the saga log co-commits through. */
export type MysqlScopedSql = <T>(
  sql: string,
  params?: readonly unknown[],
) => Promise<MysqlQueryResult<T>>;

type Scope = TransactionScope<SqlTransaction<MysqlTransactionHandle, MysqlScopedSql>>;

const HANDLE_SCOPE = Symbol.for("lockstep.mysql.transaction-scope");

/**
 * One open MySQL transaction on the pooled connection it owns. The savepoint scopes, checks and
 * statement queue are the SQL core's; this adds `mysql2`'s query call and the `query` handle.
 */
export class MysqlTransaction extends QueuedTransaction<
  MysqlTransactionHandle,
  MysqlScopedSql,
  MysqlRaw
> {
  readonly handle: MysqlTransactionHandle;
  readonly #connection: PoolConnection;
  #rolledBack: unknown;
  #begun = false;

  constructor(storeId: string, connection: PoolConnection, abort: AbortWatch) {
    super(storeId, abort);
    this.#connection = connection;
    this.handle = this.handleFor(this.root);
  }

  protected override get dialect(): SqlDialect {
    return mysqlDialect;
  }

  /** Stores with one id are one database: that is what a log's `storeId` promises. */
  override get database(): string {
    return this.storeId;
  }

  /**
   * Set when the server rolled the whole transaction back on its own: a deadlock (1213), a lock wait
   * timeout (1205, which rolls back everything under `innodb_rollback_on_timeout`), or an answer
   * that shows no transaction open any more. The connection is then in autocommit mode, so every
   * later statement is refused before it is sent: it would commit on its own, outside the
   * transaction. The transaction fails as not committed.
   */
  get rolledBack(): unknown {
    return this.#rolledBack;
  }

  protected override connectionInTransaction(): boolean {
    return this.#rolledBack === undefined;
  }

  protected override send(
    sql: string,
    params: readonly unknown[] | undefined,
    extra?: unknown,
  ): Promise<MysqlRaw> {
    if (this.#rolledBack !== undefined && sql !== "ROLLBACK") {
      return Promise.reject(
        new StoreError(
          "not_committed",
          `${this.dialect.name} had already rolled the transaction on "${this.storeId}" back (${messageOf(this.#rolledBack)}); the statement was not sent, since it would have committed on its own.`,
          { cause: this.#rolledBack },
        ),
      );
    }
    const sent = this.#connection.query(
      queryConfigOf(sql, extra as MysqlDriverOptions | undefined) as string,
      paramsOf(params),
    ) as unknown as Promise<MysqlRaw>;
    return sent.then(this.#watchValue, this.#watchError);
  }

  // Arrow-function fields are avoided elsewhere for per-transaction cost; these two are the price of
  // knowing the server's transaction state after every statement.
  readonly #watchValue = (raw: MysqlRaw): MysqlRaw => {
    const status = (this.#connection as unknown as { connection?: { serverStatus?: number } })
      .connection?.serverStatus;
    if (!this.#begun) {
      // Everything before START TRANSACTION's answer runs outside the transaction by design.
      this.#begun = typeof status === "number" && (status & IN_TRANSACTION) !== 0;
      return raw;
    }
    if (
      this.open &&
      this.#rolledBack === undefined &&
      typeof status === "number" &&
      (status & IN_TRANSACTION) === 0
    ) {
      this.#rolledBack = new Error("the server reports no open transaction");
    }
    return raw;
  };

  readonly #watchError = (error: unknown): never => {
    const errno = mysqlErrnoOf(error);
    if (errno === 1213 || errno === 1205) this.#rolledBack ??= error;
    throw error;
  };

  /** One statement through `scope`, with `mysql2` options, answered with `mysql2`'s own result. */
  statementFor(
    scope: Scope,
    sql: string,
    params: readonly unknown[] | undefined,
    options: MysqlDriverOptions,
  ): Promise<MysqlRaw> {
    return this.statement(scope, sql, params, options);
  }

  override sqlFor(scope: Scope): MysqlScopedSql {
    return <T>(sql: string, params?: readonly unknown[]) =>
      this.statement(scope, sql, params).then(normalizeResult<T>);
  }

  protected override handleFor(scope: Scope): MysqlTransactionHandle {
    const handle: MysqlTransactionHandle = {
      query: <T>(sql: string, params?: readonly unknown[]) =>
        this.statement(scope, sql, params).then(normalizeResult<T>),
      savepoint: <T>(fn: (inner: MysqlTransactionHandle) => Promise<T>) =>
        this.savepoint(scope, fn),
    };
    Object.defineProperty(handle, HANDLE_SCOPE, { value: scope });
    return Object.freeze(handle);
  }
}

/** The transaction scope behind a handle, or `undefined` for anything else (a root handle). */
export function mysqlScopeOf(handle: unknown): TransactionScope<MysqlTransaction> | undefined {
  return scopeBehind<MysqlTransaction>(handle, HANDLE_SCOPE);
}

/**
 * Runs one statement through the lockstep transaction behind `handle`, with every check its handle
 * makes and `mysql2`'s `options`, answered with `mysql2`'s own `[rows, fields]`: what an ORM's
 * session sends through.
 */
export function queryThrough(
  handle: MysqlTransactionHandle,
  sql: string,
  params: readonly unknown[] | undefined,
  options: MysqlDriverOptions,
): Promise<MysqlRaw> {
  const scope = mysqlScopeOf(handle);
  if (scope === undefined) {
    return Promise.reject(
      new StoreError("not_committed", "Expected a MySQL transaction handle; nothing was sent."),
    );
  }
  return scope.context.statementFor(scope, sql, params, options);
}

/**
 * Gives `target` (an ORM's transaction object) the scope of the lockstep transaction handle `from`,
 * so the saga log accepts it for co-commit as it accepts the handle itself.
 */
export function lendMysqlScope(target: object, from: MysqlTransactionHandle): void {
  Object.defineProperty(target, HANDLE_SCOPE, { value: mysqlScopeOf(from) });
}
