import { type ErrorClassifier, StoreError } from "../../core/error-kinds.js";
import { messageOf } from "../../core/message-of.js";
import { ErrorKind } from "../../model/error-kind.js";
import { guardTableDdl, runBatch } from "./batch-guard.js";
import type { BatchItem, BatchSql, SqlStatement, StatementResult } from "./batch-sql.js";

/** What a batch database's driver does: one statement, or several applied all-or-nothing. */
export interface BatchDriver {
  all<T>(sql: string, params: readonly unknown[]): Promise<T[]>;
  run(sql: string, params: readonly unknown[]): Promise<StatementResult>;
  /** Applies `statements` in one atomic batch, or rejects having applied none of them. */
  send(statements: readonly SqlStatement[]): Promise<StatementResult[]>;
}

/** The names of a batch store's own tables. */
export interface BatchTables {
  /** The guard table checks insert into; it never holds a row. */
  readonly guard: string;
  /** Per saga, the highest fencing token a step call carried. */
  readonly fence: string;
}

/** A batch store's own tables for a prefix: `<prefix>batch_guard` and `<prefix>fence`. */
export function batchTables(prefix: string): BatchTables {
  return { guard: `${prefix}batch_guard`, fence: `${prefix}fence` };
}

/**
 * {@link BatchSql} over a driver: checks become guard-table inserts, and the store's own tables
 * are created (`IF NOT EXISTS`) once, before the first batch. A failed creation is retried by the
 * next batch.
 */
export class GuardedBatchSql implements BatchSql {
  readonly #driver: BatchDriver;
  readonly #tables: BatchTables;
  readonly #name: string;
  readonly #classify: ErrorClassifier;
  #ready: Promise<void> | undefined;

  /**
   * @param name the database's name in messages (`"D1"`, `"libSQL"`)
   * @param classify the driver's error classifier: every driver error is rethrown as a
   *   {@link StoreError} of the kind it gives (`unknown` when it gives none), with the error as cause
   */
  constructor(
    driver: BatchDriver,
    tables: BatchTables,
    name: string,
    classify: ErrorClassifier,
    ready?: Promise<void>,
  ) {
    this.#driver = driver;
    this.#tables = tables;
    this.#name = name;
    this.#classify = classify;
    this.#ready = ready;
  }

  all<T>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return this.#driver.all<T>(sql, params ?? []).catch(this.#rethrow);
  }

  run(sql: string, params?: readonly unknown[]): Promise<StatementResult> {
    return this.#driver.run(sql, params ?? []).catch(this.#rethrow);
  }

  readonly #rethrow = (error: unknown): never => {
    if (StoreError.is(error)) throw error;
    throw new StoreError(
      this.#classify(error) ?? ErrorKind.Unknown,
      `${this.#name} failed: ${messageOf(error)}`,
      { cause: error },
    );
  };

  batch(items: readonly BatchItem[]): Promise<StatementResult[]> {
    return this.batchThrough(items, (statements) => this.#driver.send(statements));
  }

  /**
   * {@link batch}, with the lowered statements sent by `send` instead of the driver, which applies
   * them in one atomic batch and answers with the driver's own results (for an ORM that maps them
   * itself); its errors are rethrown as the driver's are.
   */
  async batchThrough<R>(
    items: readonly BatchItem[],
    send: (statements: readonly SqlStatement[]) => Promise<readonly R[]>,
  ): Promise<R[]> {
    await this.ready();
    return runBatch(
      this.#tables.guard,
      items,
      (statements) => send(statements).catch(this.#rethrow),
      (index, cause) =>
        new StoreError(
          "conflict",
          `Check ${index} of the batch did not hold; nothing was applied.`,
          {
            cause,
            index,
          },
        ),
    );
  }

  /** Creates the guard and fence tables if they are missing. */
  ready(): Promise<void> {
    this.#ready ??= this.#driver
      .send([
        { sql: guardTableDdl(this.#tables.guard) },
        {
          sql: `CREATE TABLE IF NOT EXISTS ${this.#tables.fence} (saga_id TEXT NOT NULL PRIMARY KEY, token INTEGER NOT NULL)`,
        },
      ])
      .then(
        () => {},
        (error: unknown) => {
          this.#ready = undefined;
          this.#rethrow(error);
        },
      );
    return this.#ready;
  }
}
