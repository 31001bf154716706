/**
 * What one statement returned: its rows, how many rows it matched, and the id an `INSERT` generated.
 *
 * @example
 * ```ts
 * const { rows, rowCount } = await handle.query<{ id: string }>("SELECT id FROM orders");
 * ```
 */
export interface MysqlQueryResult<T> {
  /** The rows the statement returned; empty for a statement that returns none. */
  readonly rows: T[];
  /**
   * For `SELECT`, how many rows it returned. For `INSERT`, `UPDATE` and `DELETE`, how many rows it
   * *matched* (the server's "Rows matched", whatever the connection's `FOUND_ROWS` flag), so a
   * guarded `UPDATE … WHERE version = ?` that sets a row to the values it already holds still
   * counts 1, and one that lost counts 0, as in Postgres.
   */
  readonly rowCount: number;
  /** The `AUTO_INCREMENT` id an `INSERT` generated; 0 for any other statement. */
  readonly insertId: number;
}

/**
 * How step code talks to MySQL or MariaDB: the store's root handle, or a transaction's handle.
 *
 * Through the root handle each statement runs on whichever pooled connection is free and commits on
 * its own (autocommit). Through a transaction handle every statement runs on the one connection the
 * transaction owns, in the order they were issued.
 *
 * Transaction control (`BEGIN`, `START TRANSACTION`, `COMMIT`, `ROLLBACK`, `SAVEPOINT`, `XA`,
 * `SET autocommit`, `LOCK TABLES`, …) is refused through every handle. Use `store.transaction(...)`
 * and `tx.savepoint(...)` instead.
 *
 * @example
 * ```ts
 * const { rows } = await handle.query<{ balance: number }>(
 *   "SELECT balance FROM accounts WHERE id = ?",
 *   [id],
 * );
 * const { rowCount } = await handle.query(
 *   "UPDATE accounts SET balance = ?, version = version + 1 WHERE id = ? AND version = ?",
 *   [next, id, version],
 * );
 * ```
 */
export interface MysqlHandle {
  /**
   * Runs one statement with positional `?` parameters and resolves with its rows and row count.
   * Driver errors are thrown as they are (a `mysql2` error carries `errno`, `code` and `sqlState`);
   * the store's `classifyError` knows them.
   */
  query<T = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<MysqlQueryResult<T>>;
  /**
   * Present on transaction handles only; see {@link MysqlTransactionHandle.savepoint}. The root
   * handle has no transaction to nest a scope in.
   */
  readonly savepoint?: <T>(fn: (scope: MysqlTransactionHandle) => Promise<T>) => Promise<T>;
}

/** The handle a transaction (or a savepoint inside it) hands its callback. */
export interface MysqlTransactionHandle extends MysqlHandle {
  /**
   * Runs `fn` in a nested scope (a `SAVEPOINT`): if `fn` rejects, only what it wrote is rolled back
   * (`ROLLBACK TO SAVEPOINT`), the error is rethrown, and the outer transaction stays usable. While
   * the nested scope runs, statements must go through the handle it receives; the outer handle
   * refuses them, because they would silently share the nested scope's fate.
   *
   * @example
   * ```ts
   * await store.transaction(async (tx) => {
   *   await tx.query("INSERT INTO orders (id) VALUES (?)", [id]);
   *   await tx
   *     .savepoint((sp) => sp.query("INSERT INTO audit (order_id) VALUES (?)", [id]))
   *     .catch(() => {}); // the order commits even if the audit row cannot be written
   * }, scope);
   * ```
   */
  savepoint<T>(fn: (scope: MysqlTransactionHandle) => Promise<T>): Promise<T>;
}

/**
 * A prepared write for `runAtomic`: one statement with `?` placeholders. Express every
 * precondition inside the statement (`UPDATE … WHERE version = ?`); zero rows matched on a guarded
 * write is a conflict.
 *
 * @example
 * ```ts
 * const write: MysqlWrite = {
 *   sql: "UPDATE bounties SET status = 'claimed' WHERE id = ? AND status = 'open'",
 *   values: [bountyId],
 * };
 * ```
 */
export interface MysqlWrite {
  /** The statement, with `?` placeholders. */
  readonly sql: string;
  /** The positional parameters. @default [] */
  readonly values?: readonly unknown[];
}

/** What a {@link MysqlWrite} returned; `rowCount` is what `affected` reports. */
export type MysqlWriteResult = MysqlQueryResult<Record<string, unknown>>;
