import type { Answer, AnswerKind, SagaLogOperations } from "./saga-log-operations.js";
import type { SqlDialect } from "./sql-dialect.js";
import type { SqlTransaction, TransactionScope } from "./sql-transaction.js";

/**
 * How a log's own statements run:
 *
 * - `"read"`: a consistent read (a read transaction, or one autocommit statement);
 * - `"write"`: a write that is atomic on its own (a write transaction, or one autocommit statement);
 * - `"lock"`: a transaction of the log's own that holds the rows its statements lock until it ends,
 *   with a deadline: what the locking `write` runs in.
 */
export type LogAccess = "read" | "write" | "lock";

/**
 * What a SQL dialect supplies for its saga log besides its statements: how the log reaches the
 * database. `SqlSagaLog` does the rest, the same for every dialect: argument checks, record
 * validation, schema creation once per log, error wrapping, remembered headers for dialects with a
 * one-statement write, and co-commit through the dialect's transaction handles.
 *
 * @typeParam Sql the dialect's statement runner, as its {@link SagaLogOperations} take it
 * @typeParam Kind whether the runner answers at once or with promises
 */
export interface SagaLogDriver<Sql, Kind extends AnswerKind> {
  /** The dialect: its name is the database's in the log's messages. */
  readonly dialect: SqlDialect;
  /** The id of the store whose transactions can carry the log's records (`coCommit.storeId`). */
  readonly storeId: string;
  /** Identifies the log's database, as `SqlTransaction.database` does for a transaction. */
  readonly database: unknown;
  /** Where a transaction handle for `coCommit` comes from, named in the refusal of any other. */
  readonly handleOrigin: string;
  /** The log's statements. */
  readonly operations: SagaLogOperations<Sql, Kind>;
  /** Runs `body` with a statement runner of the log's own, as `access` says. */
  run<T>(access: LogAccess, body: (sql: Sql) => Answer<Kind, T>): Promise<T>;
  /** Creates the log's tables and indexes if any is missing; the log calls it once, before its first operation. */
  createSchema(): Promise<void>;
  /**
   * Creates the tables inside a caller's transaction, so that a co-committed write made before
   * {@link SagaLogDriver.createSchema} has finished still finds them. Without it, a co-committed
   * write waits for `createSchema` instead.
   */
  createSchemaIn?(sql: Sql): void;
  /** The transaction scope behind a handle of the dialect, or `undefined` for anything else. */
  scopeOf(handle: unknown): TransactionScope<SqlTransaction<unknown, Sql>> | undefined;
}
