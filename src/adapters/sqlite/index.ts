export { classifySqliteError } from "./classify-sqlite-error.js";
export { openSqlite, type SqliteDatabase, type SqliteOptions } from "./open-sqlite.js";
export type {
  SqliteHandle,
  SqliteRunResult,
  SqliteTransactionHandle,
  SqliteWrite,
  SqliteWriteResult,
} from "./sqlite-handle.js";
export {
  type SqliteSagaLog,
  type SqliteSagaLogOptions,
  sqliteSagaLog,
} from "./sqlite-saga-log.js";
export { type SqliteStore, type SqliteStoreOptions, sqliteStore } from "./sqlite-store.js";
