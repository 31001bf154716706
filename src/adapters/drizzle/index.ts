export { UnsupportedDialectError } from "../sql/unsupported-dialect.js";
export { guarded } from "./drizzle-batch.js";
export type { DrizzleDriver } from "./drizzle-dialect.js";
export {
  type DrizzleSagaLog,
  type DrizzleSagaLogOptions,
  drizzleSagaLog,
} from "./drizzle-saga-log.js";
export { drizzleStore } from "./drizzle-store.js";
export type { DrizzleStoreOptions } from "./drizzle-store-options.js";
export type {
  DrizzleBatch,
  DrizzleBatchHandle,
  DrizzleBatchStore,
  DrizzleD1Database,
  DrizzleDatabase,
  DrizzleHandle,
  DrizzleLibsqlDatabase,
  DrizzleStore,
  DrizzleTransaction,
  DrizzleTransactionHandle,
  DrizzleTransactionStore,
  DrizzleWrite,
  DrizzleWriteOn,
} from "./drizzle-types.js";
