export type { BatchHandle, BatchWrite, BatchWriteResult } from "../sql/batch-handle.js";
export type { BatchSagaLog } from "../sql/batch-saga-log.js";
export type { StatementResult } from "../sql/batch-sql.js";
export { classifyD1Error } from "./classify-d1-error.js";
export type { D1DatabaseLike, D1ResultLike, D1StatementLike } from "./d1-binding.js";
export { type D1SagaLog, type D1SagaLogOptions, d1SagaLog } from "./d1-saga-log.js";
export {
  type D1Handle,
  type D1Store,
  type D1StoreOptions,
  type D1Write,
  type D1WriteResult,
  d1Store,
} from "./d1-store.js";
