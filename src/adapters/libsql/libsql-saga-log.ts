import { type BatchSagaLog, batchSagaLog } from "../sql/batch-saga-log.js";
import { coCommitStoreId } from "../sql/co-commit-store.js";
import { assertTablePrefix } from "../sql/saga-log-tables.js";
import { sqliteDialect } from "../sqlite/sqlite-dialect.js";
import { type LibsqlClientLike, libsqlDatabaseOf } from "./libsql-database.js";
import { assertLibsqlClient } from "./libsql-store.js";

/** Options of {@link libsqlSagaLog}. */
export interface LibsqlSagaLogOptions {
  /** Prepended to the log's tables and the store's own. @default "lockstep_" */
  readonly tablePrefix?: string;
  /** The `libsqlStore` on the same client whose transactions or batches carry this log's records. */
  readonly store?: { readonly id: string };
  /** The logical id of that store. */
  readonly coCommitWith?: string;
}

/** A saga log stored in libSQL. */
export type LibsqlSagaLog = BatchSagaLog;

/**
 * Opens the saga log on an `@libsql/client` client, creating its tables now (`IF NOT EXISTS`).
 * Writes are optimistic batches with a check that the saga's row is as read, as on D1. Declared to
 * co-commit with a `libsqlStore` on the same client, a step on that store commits with its log
 * records: in the store's transaction, or, in batch mode, in one batch with a fencing check.
 *
 * @example
 * ```ts
 * const log = libsqlSagaLog(client, { store });
 * ```
 */
export function libsqlSagaLog(
  client: LibsqlClientLike,
  options: LibsqlSagaLogOptions = {},
): LibsqlSagaLog {
  assertLibsqlClient(client);
  const prefix = options.tablePrefix ?? "lockstep_";
  assertTablePrefix(prefix);
  const database = libsqlDatabaseOf(client, prefix);
  const storeId = coCommitStoreId(options, () => "libsql");
  const log = batchSagaLog({
    dialect: Object.freeze({ ...sqliteDialect, name: "libSQL" }),
    sql: database.sql,
    storeId,
    database: database.sql,
    handleOrigin: "libsqlStore(client).transaction or .deferredBatch",
    tablePrefix: prefix,
  });
  // Created now, and awaited by the store's transactions: a co-committed write inside one must
  // not wait for a table created on another connection.
  const schema = log.ensureSchema().catch(() => {});
  database.pending.add(schema);
  void schema.then(() => database.pending.delete(schema));
  return log;
}
