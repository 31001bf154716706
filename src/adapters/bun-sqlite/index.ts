export { classifySqliteError } from "../sqlite/classify-sqlite-error.js";
export type { SqliteDatabase, SqliteOptions } from "../sqlite/database.js";
export type {
  SqliteHandle,
  SqliteRunResult,
  SqliteTransactionHandle,
  SqliteWrite,
  SqliteWriteResult,
} from "../sqlite/sqlite-handle.js";
export {
  type SqliteSagaLog,
  type SqliteSagaLogOptions,
  sqliteSagaLog,
} from "../sqlite/sqlite-saga-log.js";
export { type SqliteStore, type SqliteStoreOptions, sqliteStore } from "../sqlite/sqlite-store.js";
export { openSqlite } from "./open-bun-sqlite.js";
