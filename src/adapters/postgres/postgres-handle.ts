/**
 * What one statement returned: its rows and how many rows it inserted, updated, deleted or selected.
 *
 * @example
 * ```ts
 * const { rows, rowCount } = await handle.query<{ id: string }>("SELECT id FROM orders");
 * ```
 */
export interface PostgresQueryResult<T> {
  /** The rows the statement returned; empty for a statement that returns none. */
  readonly rows: T[];
  /**
   * How many rows the statement affected (or returned, for `SELECT`); zero on a guarded write that
   * lost, and zero for statements Postgres reports no count for (`SET`, `CREATE`, …). For a string
   * of several statements it is the sum over all of them, and `rows` are the last one's.
   */
  readonly rowCount: number;
}

/**
 * How step code talks to Postgres: the store's root handle, or a transaction's handle.
 *
 * Through the root handle each statement runs on whichever pooled connection is free and commits on
 * its own (`pool.query`). Through a transaction handle every statement runs on the one connection the
 * transaction owns, in the order they were issued.
 *
 * Transaction control (`BEGIN`, `COMMIT`, `ROLLBACK`, `SAVEPOINT`, …) is refused through every
 * handle: on the root handle it would leave a pooled connection inside a transaction that the next
 * borrower silently joins; on a transaction handle it would end the transaction behind lockstep's
 * back. Use `store.transaction(...)` and `tx.savepoint(...)` instead.
 *
 * @example
 * ```ts
 * const { rows } = await handle.query<{ balance: number }>(
 *   "SELECT balance FROM accounts WHERE id = $1",
 *   [id],
 * );
 * const { rowCount } = await handle.query(
 *   "UPDATE accounts SET balance = $1, version = version + 1 WHERE id = $2 AND version = $3",
 *   [next, id, version],
 * );
 * ```
 */
export interface PostgresHandle {
  /**
   * Runs one statement (or, without `params`, a string of several) with positional parameters
   * `$1`, `$2`, … and resolves with its rows and row count. Driver errors are thrown as they are
   * (a `pg` `DatabaseError` carries its SQLSTATE in `code`); the store's `classifyError` knows them.
   */
  query<T = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<PostgresQueryResult<T>>;
  /**
   * Present on transaction handles only; see {@link PostgresTransactionHandle.savepoint}. The root
   * handle has no transaction to nest a scope in.
   */
  readonly savepoint?: <T>(fn: (scope: PostgresTransactionHandle) => Promise<T>) => Promise<T>;
}

/** The handle a transaction (or a savepoint inside it) hands its callback. */
export interface PostgresTransactionHandle extends PostgresHandle {
  /**
   * Runs `fn` in a nested scope (a Postgres `SAVEPOINT`): if `fn` rejects, only what it wrote is
   * rolled back (`ROLLBACK TO SAVEPOINT`), the error is rethrown, and the outer transaction stays
   * usable. While the nested scope runs, statements must go through the handle it receives; the
   * outer handle refuses them, because they would silently share the nested scope's fate.
   *
   * @example
   * ```ts
   * await store.transaction(async (tx) => {
   *   await tx.query("INSERT INTO orders (id) VALUES ($1)", [id]);
   *   await tx
   *     .savepoint((sp) => sp.query("INSERT INTO audit (order_id) VALUES ($1)", [id]))
   *     .catch(() => {}); // the order commits even if the audit row cannot be written
   * }, scope);
   * ```
   */
  savepoint<T>(fn: (scope: PostgresTransactionHandle) => Promise<T>): Promise<T>;
}

/**
 * A prepared write for `runAtomic`: one statement in `pg`'s `{ text, values }` shape. Express every
 * precondition inside the statement (`UPDATE … WHERE version = $2`); zero rows affected on a guarded
 * write is a conflict.
 *
 * @example
 * ```ts
 * const write: PostgresWrite = {
 *   text: "UPDATE bounties SET status = 'claimed' WHERE id = $1 AND status = 'open'",
 *   values: [bountyId],
 * };
 * ```
 */
export interface PostgresWrite {
  /** The statement, with `$1`, `$2`, … placeholders. */
  readonly text: string;
  /** The positional parameters. @default [] */
  readonly values?: readonly unknown[];
}

/** What a {@link PostgresWrite} returned; `rowCount` is what `affected` reports. */
export type PostgresWriteResult = PostgresQueryResult<Record<string, unknown>>;
