import type { ErrorClassifier } from "../../core/error-kinds.js";

/** How a dialect spells the statements of a savepoint named `name`. */
export interface SavepointSyntax {
  /** Opens the savepoint: `SAVEPOINT <name>`. */
  open(name: string): string;
  /** Keeps what the savepoint wrote and ends it: `RELEASE <name>` (`RELEASE SAVEPOINT` in Postgres and MySQL). */
  release(name: string): string;
  /**
   * Undoes what the savepoint wrote and ends it, leaving the transaction open: `ROLLBACK TO <name>`
   * followed by the release, sent as one string when the driver runs several statements in one call.
   */
  rollBack(name: string): string;
}

/**
 * What a SQL adapter tells lockstep's SQL core about its database, as plain data: its SQL spelling,
 * its placeholders and how to read its driver's errors. Everything else an adapter needs comes from
 * `src/adapters/sql/`:
 *
 * - the transaction's savepoint scopes and handle checks: a subclass of `SqlTransaction` (for a
 *   driver that answers synchronously: better-sqlite3, bun:sqlite) or of `QueuedTransaction` (for
 *   one that answers with promises: pg, mysql2, @libsql/client), which adds only the handle's shape
 *   and how one statement is sent;
 * - the saga log: `SqlSagaLog`, which validates, fences, wraps errors, creates the schema once,
 *   remembers headers for one-statement writes and co-commits through transaction handles, given a
 *   `SagaLogDriver` (how the log reaches the database) and the dialect's `SagaLogOperations` (its
 *   statements, built from the shared row mapping and write rules);
 * - `refuseTransactionControl`, which every handle runs on every statement with this dialect.
 *
 * What stays with the adapter is how a transaction begins, commits and rolls back on its driver
 * (`BEGIN IMMEDIATE` behind a write gate, a pooled connection per transaction, `client.transaction()`,
 * a D1 batch), and its store's root handle.
 *
 * A MySQL dialect, say, would be `name: "MySQL"`, `?` placeholders, `IN (?, ?)` lists, `FOR UPDATE` row locks, a
 * `transactionControl` that also matches `START TRANSACTION` and `XA`, `RELEASE SAVEPOINT` in its
 * savepoint syntax, and a classifier of mysql2's error codes.
 */
export interface SqlDialect {
  /** The database's name in messages: `"SQLite"`, `"Postgres"`. */
  readonly name: string;
  /**
   * The `index`-th positional parameter of a statement, counted from 1: `?` for SQLite and MySQL,
   * `$1`, `$2`, … for Postgres.
   */
  placeholder(index: number): string;
  /**
   * Spells "`column` is one of `values`" and appends the parameters it uses to `params`, numbering
   * its placeholders after those already there: `status IN (?, ?)` with a parameter per value, or
   * Postgres's `status = ANY($1::text[])` with one array parameter, whose text is the same for any
   * number of values.
   */
  anyOf(column: string, values: readonly unknown[], params: unknown[]): string;
  /**
   * Matches the start of a statement that would begin, end or nest a transaction behind lockstep's
   * back (`BEGIN`, `COMMIT`, `SAVEPOINT`, …), in every spelling the database accepts. Every handle
   * refuses such a statement with a `not_committed` `StoreError` before it is sent. A guard, not a
   * parser: it catches the plain spellings.
   */
  readonly transactionControl: RegExp;
  /**
   * Appended to a `SELECT` inside a transaction so the rows it reads stay locked until the
   * transaction ends: `" FOR UPDATE"`, or `""` where the transaction already holds the database's
   * write lock (SQLite's `BEGIN IMMEDIATE`). The saga log's locking write reads its row this way
   * before checking the fencing token.
   */
  readonly lockRows: string;
  /** How savepoints are spelled; `tx.savepoint(...)` runs these. */
  readonly savepoints: SavepointSyntax;
  /**
   * The driver's errors as error kinds: the store's `classifyError`, and what a failed `BEGIN`,
   * statement or `COMMIT` is reported as. Unrecognised errors must give `undefined` (`unknown`).
   */
  readonly classifyError: ErrorClassifier;
}
