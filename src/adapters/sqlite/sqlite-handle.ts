/** What a statement run through {@link SqliteHandle.run} changed. */
export interface SqliteRunResult {
  /** How many rows the statement inserted, updated or deleted; zero on a guarded write that lost. */
  readonly changes: number;
  /** The rowid of the last row inserted through this connection. */
  readonly lastInsertRowid: number | bigint;
}

/**
 * How step code talks to a SQLite database: the store's root handle, or a transaction's handle.
 *
 * Every method is asynchronous even though better-sqlite3 is not, because a write may first wait for
 * the database's write gate (another request's transaction) without blocking the event loop.
 *
 * @example
 * ```ts
 * const row = await handle.get<{ balance: number }>("SELECT balance FROM accounts WHERE id = ?", [id]);
 * await handle.run("UPDATE accounts SET balance = ? WHERE id = ? AND balance = ?", [next, id, prev]);
 * ```
 */
export interface SqliteHandle {
  /**
   * Runs one statement and reports what it changed. Through the root handle, a statement that writes
   * waits until no transaction is open on the database, then commits on its own.
   */
  run(sql: string, params?: readonly unknown[]): Promise<SqliteRunResult>;
  /** Runs one statement that returns rows and resolves with the first, or `undefined`. */
  get<T = unknown>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  /** Runs one statement that returns rows and resolves with all of them. */
  all<T = unknown>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /**
   * Present on transaction handles only; see {@link SqliteTransactionHandle.savepoint}. The root
   * handle has no transaction to nest a scope in.
   */
  readonly savepoint?: <T>(fn: (scope: SqliteTransactionHandle) => Promise<T>) => Promise<T>;
}

/** The handle a transaction (or a savepoint inside it) hands its callback. */
export interface SqliteTransactionHandle extends SqliteHandle {
  /**
   * Runs `fn` in a nested scope (a SQLite `SAVEPOINT`): if `fn` rejects, only what it wrote is rolled
   * back, the error is rethrown, and the outer transaction stays open. While the nested scope runs,
   * statements must go through the handle it receives; the outer handle refuses them, because they
   * would silently share the nested scope's fate.
   *
   * @example
   * ```ts
   * await store.transaction(async (tx) => {
   *   await tx.run("INSERT INTO orders (id) VALUES (?)", [id]);
   *   await tx.savepoint(async (sp) => sp.run("INSERT INTO audit (order_id) VALUES (?)", [id])).catch(() => {});
   * }, scope);
   * ```
   */
  savepoint<T>(fn: (scope: SqliteTransactionHandle) => Promise<T>): Promise<T>;
}

/**
 * A prepared write for `runAtomic`: one statement and its positional parameters. A guard belongs in
 * the statement itself, so zero `changes` means another writer got there first.
 *
 * @example
 * ```ts
 * const claim: SqliteWrite = {
 *   sql: "UPDATE bounties SET status = 'claimed', version = version + 1 WHERE id = ? AND version = ?",
 *   params: [bountyId, version],
 * };
 * ```
 */
export interface SqliteWrite {
  /** One SQL statement. */
  readonly sql: string;
  /** Its positional parameters (`?`). @default [] */
  readonly params?: readonly unknown[];
}

/** What a {@link SqliteWrite} changed. */
export type SqliteWriteResult = SqliteRunResult;
