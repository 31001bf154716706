export { UnsupportedDialectError } from "../sql/unsupported-dialect.js";
export type { DrizzleDriver } from "./drizzle-dialect.js";
export {
  type DrizzleSagaLog,
  type DrizzleSagaLogOptions,
  drizzleSagaLog,
} from "./drizzle-saga-log.js";
export { drizzleStore } from "./drizzle-store.js";
export type { DrizzleStoreOptions } from "./drizzle-store-options.js";
export type {
  DrizzleDatabase,
  DrizzleHandle,
  DrizzleStore,
  DrizzleTransaction,
  DrizzleWrite,
} from "./drizzle-types.js";
