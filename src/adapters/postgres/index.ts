export {
  classifyPostgresError,
  isConnectionLoss,
  sqlstateOf,
} from "./classify-postgres-error.js";
export type {
  PostgresHandle,
  PostgresQueryResult,
  PostgresTransactionHandle,
  PostgresWrite,
  PostgresWriteResult,
} from "./postgres-handle.js";
export {
  type PostgresSagaLog,
  type PostgresSagaLogOptions,
  postgresSagaLog,
} from "./postgres-saga-log.js";
export {
  type PostgresIsolation,
  type PostgresStore,
  type PostgresStoreOptions,
  postgresStore,
} from "./postgres-store.js";
export { postgresStoreId } from "./store-id.js";
