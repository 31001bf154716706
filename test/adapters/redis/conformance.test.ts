import {
  type RedisHandle,
  type RedisWrite,
  type RedisWriteResult,
  redisDel,
  redisSet,
  redisStore,
} from "../../../src/adapters/redis/index.js";
import { atomicBatchConformance } from "../../conformance/atomic-batch.js";
import { conditionalWriteConformance } from "../../conformance/conditional-write.js";
import { connectTestRedis } from "./redis-test-client.js";

async function redisFixture() {
  const redis = await connectTestRedis();
  const store = redisStore(redis.client);
  return {
    store,
    put: (key: string, value: unknown, ifVersion?: number | "absent") =>
      redisSet(redis.key(key), value, ifVersion === undefined ? {} : { ifVersion }),
    remove: (key: string, ifVersion: number) => redisDel(redis.key(key), { ifVersion }),
    read: async (key: string) => {
      const doc = await store.handle.get(redis.key(key));
      return doc && { value: doc.value, version: doc.version };
    },
    versionOf: (result: RedisWriteResult) => result.version,
    // A list under the key: Redis would answer WRONGTYPE to a write meant for a document.
    refuse: async (key: string) => {
      await redis.client.rpush(redis.key(key), "not a document");
    },
    close: async () => {
      await store.close();
      await redis.cleanup();
    },
  };
}

conditionalWriteConformance<RedisHandle, RedisWrite, RedisWriteResult, number>(
  "redisStore",
  redisFixture,
);

atomicBatchConformance<RedisHandle, RedisWrite, RedisWriteResult, number>(
  "redisStore",
  redisFixture,
);
