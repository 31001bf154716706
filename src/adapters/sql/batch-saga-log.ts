import type { CoCommitLog, SagaLog } from "../../log/saga-log.js";
import type { BatchHandle } from "./batch-handle.js";
import { BatchLogOperations } from "./batch-log-operations.js";
import type { BatchSql } from "./batch-sql.js";
import { deferredScopeOf } from "./deferred-batch.js";
import { type SagaLogColumnTypes, sagaLogDdl } from "./saga-log-tables.js";
import type { SqlDialect } from "./sql-dialect.js";
import { SqlSagaLog } from "./sql-saga-log.js";
import type { SqlTransaction, TransactionScope } from "./sql-transaction.js";

const TYPES: SagaLogColumnTypes = { text: "TEXT", integer: "INTEGER", bigint: "INTEGER" };

/** A saga log on a batch database, able to append its records to a step's batch. */
export interface BatchSagaLog extends SagaLog {
  /**
   * Appends log records to a deferred batch of the log's own store (its `storeId`): the records,
   * and a fencing check that makes the whole batch apply nothing when the token is stale, are sent
   * in the same atomic batch as the step's writes.
   */
  readonly coCommit: CoCommitLog<BatchHandle>;
  /** Creates the log's tables and indexes if any is missing; every other call does this first. */
  ensureSchema(): Promise<void>;
}

/** What {@link batchSagaLog} needs from its adapter. */
export interface BatchSagaLogOptions {
  readonly dialect: SqlDialect;
  readonly sql: BatchSql;
  readonly storeId: string;
  /** Identifies the database: the same value the co-committing store's deferred batches carry. */
  readonly database: unknown;
  readonly handleOrigin: string;
  readonly tablePrefix: string;
}

/**
 * The saga log over a {@link BatchSql}: the shared SQL log with the batch operations, its tables
 * created once (`CREATE … IF NOT EXISTS`, in one batch).
 */
export function batchSagaLog(options: BatchSagaLogOptions): BatchSagaLog {
  const ddl = sagaLogDdl(TYPES, options.tablePrefix, (name) => `"${name}"`);
  const operations = new BatchLogOperations(options.dialect, ddl);
  const { sql } = options;
  const schema = [
    `${ddl.createSagas} STRICT`,
    ...ddl.createIndexes
      .split(";")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
    `${ddl.createEntries} STRICT, WITHOUT ROWID`,
    `${ddl.createOperatorEvents} STRICT`,
    `${ddl.createWorkers} STRICT`,
  ];
  return new SqlSagaLog<BatchHandle, BatchSql, "async">({
    dialect: options.dialect,
    storeId: options.storeId,
    database: options.database,
    handleOrigin: options.handleOrigin,
    operations,
    run: (_access, body) => body(sql),
    createSchema: async () => {
      await sql.batch(schema.map((text) => ({ sql: text })));
    },
    scopeOf: (handle) =>
      deferredScopeOf(handle) as unknown as
        | TransactionScope<SqlTransaction<unknown, BatchSql>>
        | undefined,
  }) as BatchSagaLog;
}
