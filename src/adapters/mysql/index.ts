export {
  classifyMysqlError,
  isMysqlConnectionLoss,
  mysqlErrnoOf,
} from "./classify-mysql-error.js";
export type {
  MysqlHandle,
  MysqlQueryResult,
  MysqlTransactionHandle,
  MysqlWrite,
  MysqlWriteResult,
} from "./mysql-handle.js";
export { type MysqlSagaLog, type MysqlSagaLogOptions, mysqlSagaLog } from "./mysql-saga-log.js";
export {
  type MysqlIsolation,
  type MysqlStore,
  type MysqlStoreOptions,
  mysqlStore,
} from "./mysql-store.js";
export { mysqlStoreId } from "./store-id.js";
