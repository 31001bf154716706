import Database from "better-sqlite3";
import { StoreError } from "../../core/error-kinds.js";
import type { SqliteRunResult } from "./sqlite-handle.js";

/** How a statement's rows are wanted. */
export type StatementMode = "run" | "get" | "all";

/** Synchronous statement execution, for code that must not yield while it holds a transaction. */
export interface SyncSql {
  run(sql: string, params?: readonly unknown[]): SqliteRunResult;
  get<T>(sql: string, params?: readonly unknown[]): T | undefined;
  all<T>(sql: string, params?: readonly unknown[]): T[];
  /** Runs several statements without parameters, e.g. schema DDL. */
  exec(sql: string): void;
}

const STATEMENT_CACHE_SIZE = 128;

// A guard, not a parser: it catches the plain spellings that would end or nest a transaction behind
// lockstep's back.
const TRANSACTION_CONTROL = /^\s*(?:BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b/i;

/** Refuses statements that would start or end a transaction outside lockstep's control. */
export function refuseTransactionControl(sql: string): void {
  if (TRANSACTION_CONTROL.test(sql)) {
    throw new StoreError(
      "not_committed",
      `Transaction control statements cannot run through a lockstep SQLite handle, got ${JSON.stringify(sql.trim().slice(0, 40))}; use store.transaction(...) and tx.savepoint(...) instead.`,
    );
  }
}

/** One better-sqlite3 connection with lockstep's pragmas and a small statement cache. */
export class Connection {
  readonly raw: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();

  constructor(path: string, busyTimeoutMs: number, fileMustExist: boolean) {
    this.raw = new Database(path, { fileMustExist });
    try {
      this.raw.pragma("journal_mode = WAL");
      this.raw.pragma("synchronous = FULL");
      this.raw.pragma(`busy_timeout = ${busyTimeoutMs}`);
      this.raw.pragma("foreign_keys = ON");
    } catch (error) {
      this.raw.close();
      throw error;
    }
  }

  get open(): boolean {
    return this.raw.open;
  }

  get inTransaction(): boolean {
    return this.raw.open && this.raw.inTransaction;
  }

  /**
   * Prepares (or reuses) a statement. A statement SQLite cannot prepare never ran, so the failure is
   * reported as `not_committed` with the driver's error as its cause.
   */
  prepare(sql: string): Database.Statement {
    const cached = this.#statements.get(sql);
    if (cached !== undefined) {
      this.#statements.delete(sql);
      this.#statements.set(sql, cached);
      return cached;
    }
    let statement: Database.Statement;
    try {
      statement = this.raw.prepare(sql);
    } catch (error) {
      throw new StoreError(
        "not_committed",
        `SQLite could not prepare the statement: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    this.#statements.set(sql, statement);
    if (this.#statements.size > STATEMENT_CACHE_SIZE) {
      const oldest = this.#statements.keys().next().value;
      if (oldest !== undefined) this.#statements.delete(oldest);
    }
    return statement;
  }

  exec(sql: string): void {
    this.raw.exec(sql);
  }

  close(): void {
    this.#statements.clear();
    if (this.raw.open) this.raw.close();
  }

  /** This connection as {@link SyncSql}, with no checks of its own. */
  sync(): SyncSql {
    return {
      run: (sql, params) => execute(this.prepare(sql), params, "run") as SqliteRunResult,
      get: <T>(sql: string, params?: readonly unknown[]) =>
        execute(this.prepare(sql), params, "get") as T | undefined,
      all: <T>(sql: string, params?: readonly unknown[]) =>
        execute(this.prepare(sql), params, "all") as T[],
      exec: (sql) => this.exec(sql),
    };
  }
}

/** Runs a prepared statement in the wanted mode. */
export function execute(
  statement: Database.Statement,
  params: readonly unknown[] | undefined,
  mode: StatementMode,
): unknown {
  const args = params ?? [];
  if (mode === "run") {
    const result = statement.run(...args);
    return { changes: result.changes, lastInsertRowid: result.lastInsertRowid };
  }
  if (!statement.reader) {
    throw new StoreError(
      "not_committed",
      `\`${mode}\` needs a statement that returns rows; use \`run\` for ${JSON.stringify(statement.source.trim().slice(0, 40))}.`,
    );
  }
  return mode === "get" ? statement.get(...args) : statement.all(...args);
}
