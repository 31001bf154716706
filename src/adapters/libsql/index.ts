export type { BatchHandle, BatchWrite, BatchWriteResult } from "../sql/batch-handle.js";
export type { BatchSagaLog } from "../sql/batch-saga-log.js";
export type { StatementResult } from "../sql/batch-sql.js";
export { classifyLibsqlError } from "./classify-libsql-error.js";
export type { LibsqlClientLike, LibsqlTransactionLike } from "./libsql-database.js";
export type {
  LibsqlExecutor,
  LibsqlResultLike,
  LibsqlStatementLike,
  LibsqlValue,
} from "./libsql-driver.js";
export { type LibsqlSagaLog, type LibsqlSagaLogOptions, libsqlSagaLog } from "./libsql-saga-log.js";
export {
  type LibsqlHandle,
  type LibsqlStore,
  type LibsqlStoreOptions,
  type LibsqlWrite,
  type LibsqlWriteResult,
  libsqlStore,
} from "./libsql-store.js";
export { type OpenLibsqlOptions, openLibsql } from "./open-libsql.js";
