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
import { fenceTokenConformance } from "../../conformance/fence-token.js";
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

fenceTokenConformance<RedisHandle, RedisWrite, RedisWriteResult>("redisStore", async () => {
  const redis = await connectTestRedis();
  // Fence keys in the run's own namespace, so its cleanup deletes them.
  const store = redisStore(redis.client, { fenceKeyPrefix: redis.key("fence:") });
  return {
    store,
    put: (key: string, value: unknown) => redisSet(redis.key(key), value),
    read: async (handle: RedisHandle, key: string) => (await handle.get(redis.key(key)))?.value,
    close: async () => {
      await store.close();
      await redis.cleanup();
    },
  };
});
