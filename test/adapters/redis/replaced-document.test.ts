import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type RedisHandle,
  type RedisStore,
  redisDel,
  redisSet,
  redisStore,
} from "../../../src/adapters/redis/index.js";
import {
  expectReplacedDocumentSurvives,
  type ReplacedDocumentFixture,
} from "../../support/replaced-document.js";
import { connectTestRedis, type RedisTestClient } from "./redis-test-client.js";

describe("a Redis store's versions after the document was deleted, or lost, and created again", () => {
  let redis: RedisTestClient;
  let store: RedisStore;

  beforeEach(async () => {
    redis = await connectTestRedis();
    store = redisStore(redis.client);
  });
  afterEach(async () => {
    await store.close();
    await redis.cleanup();
  });

  /** The saga's own writes go through lockstep; `lose` says how the document disappears. */
  const fixture = (
    lose: (key: string) => Promise<unknown>,
  ): ReplacedDocumentFixture<RedisHandle> => ({
    store,
    create: async (handle, key, value) => {
      const { version } = await handle.apply(redisSet(key, value, { ifVersion: "absent" }));
      if (version === null) throw new Error(`"${key}" was not created.`);
      return version;
    },
    read: async (handle, key) => {
      const doc = await handle.get(key);
      return doc && { value: doc.value, version: doc.version };
    },
    deleteAt: async (handle, key, version) =>
      (await handle.apply(redisDel(key, { ifVersion: version as number }))).affected === 1,
    replace: async (key, value) => {
      await lose(key);
      await store.handle.apply(redisSet(key, value, { ifVersion: "absent" }));
    },
  });

  it("a compensation guarded by the version its step wrote refuses once another writer deleted and re-created the document", async () => {
    await expectReplacedDocumentSurvives(
      fixture((key) => store.handle.apply(redisDel(key))),
      redis.key("hold:o-1"),
    );
  });

  it("a compensation guarded by the version its step wrote refuses once the document was lost (as in a restart without persistence) and re-created", async () => {
    // A plain DEL on another connection leaves Redis exactly as a restart that lost the key would.
    await expectReplacedDocumentSurvives(
      fixture((key) => redis.client.del(key)),
      redis.key("hold:o-1"),
    );
  });

  it("a hash document lost and re-created never takes a version it had, so a stale hincrby guard affects nothing", async () => {
    const key = redis.key("acct");
    const first = await store.handle.apply({ op: "hset", key, fields: { balance: 10 } });
    await redis.client.del(key);
    const second = await store.handle.apply({ op: "hset", key, fields: { balance: 99 } });
    expect(
      second.version,
      "a re-created hash must not take its lost predecessor's version",
    ).not.toBe(first.version);
    const stale = await store.handle.apply({
      op: "hincrby",
      key,
      field: "balance",
      by: -99,
      ifVersion: first.version as number,
    });
    expect(stale.affected).toBe(0);
    expect((await store.handle.get(key))?.value).toEqual({ balance: "99" });
  });
});
