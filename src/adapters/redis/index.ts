export { classifyRedisError } from "./classify-redis-error.js";
export type { RedisDoc } from "./read-script.js";
export type { RedisCallOptions, RedisJsonDoc, RedisUpdateOptions } from "./redis-call-options.js";
export type { RedisHandle } from "./redis-handle.js";
export { RedisPartialBatchError } from "./redis-partial-batch-error.js";
export { type RedisStore, type RedisStoreOptions, redisStore } from "./redis-store.js";
export {
  REDIS_VERSION_FIELD,
  type RedisGuardOptions,
  type RedisIncrementOptions,
  type RedisWrite,
  type RedisWriteResult,
  redisDel,
  redisHincrby,
  redisHset,
  redisSet,
} from "./redis-write.js";
