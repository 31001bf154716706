import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type RedisStore,
  redisDel,
  redisHset,
  redisSet,
  redisStore,
} from "../../../src/adapters/redis/index.js";
import { storeFailure } from "../../conformance/transaction.js";
import { connectTestRedis, expectFirstVersion, type RedisTestClient } from "./redis-test-client.js";

describe("Redis WATCH-based update", () => {
  let redis: RedisTestClient;
  let store: RedisStore;
  let k: (name: string) => string;

  beforeEach(async () => {
    redis = await connectTestRedis();
    store = redisStore(redis.client, { watchConnections: 2 });
    k = redis.key;
  });
  afterEach(async () => {
    await store.close();
    await redis.cleanup();
  });

  const count = async (name: string) =>
    ((await store.handle.get(k(name)))?.value as { n: number } | undefined)?.n;

  it("creates, then updates a JSON document from what it reads", async () => {
    const increment = (doc: { value: unknown } | undefined) => ({
      n: ((doc?.value as { n: number } | undefined)?.n ?? 0) + 1,
    });
    const created = await store.handle.update(k("c"), increment);
    expect(created.affected).toBe(1);
    const first = expectFirstVersion(created.version);
    expect(await store.handle.update(k("c"), increment)).toEqual({
      affected: 1,
      version: first + 1,
    });
    expect(await count("c")).toBe(2);
    await store.handle.apply(redisDel(k("c")));
    const recreated = await store.handle.update(k("c"), increment);
    expect(
      expectFirstVersion(recreated.version),
      "a document created again must not start where its predecessor did",
    ).not.toBe(first);
  });

  it("concurrent updates through a pool smaller than the callers lose no increment", async () => {
    const callers = 12;
    const { version } = await store.handle.apply(redisSet(k("c"), { n: 0 }));
    const first = expectFirstVersion(version);
    const results = await Promise.all(
      Array.from({ length: callers }, () =>
        store.handle.update(
          k("c"),
          (doc) => ({ n: ((doc?.value as { n: number } | undefined)?.n ?? 0) + 1 }),
          { attempts: 50 },
        ),
      ),
    );
    expect(results.every((r) => r.affected === 1)).toBe(true);
    expect(await count("c"), "a leaked or shared WATCH would lose or duplicate updates").toBe(
      callers,
    );
    expect((await store.handle.get(k("c")))?.version).toBe(first + callers);
  });

  it("a write by someone else between the read and EXEC makes the round retry on fresh state", async () => {
    await store.handle.apply(redisSet(k("c"), { n: 0 }));
    const seen: number[] = [];
    const result = await store.handle.update(k("c"), async (doc) => {
      const n = (doc as { value: { n: number } }).value.n;
      seen.push(n);
      if (seen.length === 1) await redis.client.set(k("c"), '{"v":9,"d":{"n":100}}');
      return { n: n + 1 };
    });
    expect(seen, "the second round must read the other writer's value").toEqual([0, 100]);
    expect(result).toEqual({ affected: 1, version: 10 });
    expect(await count("c")).toBe(101);
  });

  it("losing every round is a conflict and writes nothing", async () => {
    await store.handle.apply(redisSet(k("c"), { n: 0 }));
    let rounds = 0;
    const error = await storeFailure(
      store.handle.update(
        k("c"),
        async () => {
          rounds++;
          await redis.client.set(k("c"), `{"v":${50 + rounds},"d":{"n":-1}}`);
          return { n: 1 };
        },
        { attempts: 2 },
      ),
    );
    expect(error.kind).toBe("conflict");
    expect(rounds).toBe(2);
    expect(await count("c"), "only the other writer's value remains").toBe(-1);
  });

  it("returning undefined writes nothing; a throw writes nothing and is not_committed", async () => {
    const first = expectFirstVersion(
      (await store.handle.apply(redisSet(k("c"), { n: 5 }))).version,
    );
    expect(await store.handle.update(k("c"), () => undefined)).toEqual({
      affected: 0,
      version: first,
    });
    const boom = new Error("no");
    const error = await storeFailure(
      store.handle.update(k("c"), () => {
        throw boom;
      }),
    );
    expect(error.kind).toBe("not_committed");
    expect(error.cause).toBe(boom);
    expect((await store.handle.get(k("c")))?.version).toBe(first);
    // The pool's connections must be usable after both outcomes.
    expect((await store.handle.update(k("c"), () => ({ n: 6 }))).affected).toBe(1);
  });

  it("refuses to update a hash document", async () => {
    await store.handle.apply(redisHset(k("h"), { a: 1 }));
    const error = await storeFailure(store.handle.update(k("h"), () => ({ n: 1 })));
    expect(error.kind).toBe("not_committed");
    expect(error.message).toContain("hash document");
  });

  it("a WATCH on the application's own connection is not disturbed by lockstep's updates", async () => {
    await redis.client.set(k("app"), "1");
    await redis.client.watch(k("app"));
    await store.handle.update(k("other"), () => ({ n: 1 }));
    const replies = await redis.client.multi().set(k("app"), "2").exec();
    expect(replies, "the app's transaction must still commit").not.toBeNull();
    expect(await redis.client.get(k("app"))).toBe("2");
  });

  it("a signal aborted before the update sends nothing", async () => {
    const controller = new AbortController();
    controller.abort(new Error("gave up"));
    const error = await storeFailure(
      store.handle.update(k("c"), () => ({ n: 1 }), { signal: controller.signal }),
    );
    expect(error.kind).toBe("not_committed");
    expect(await redis.client.exists(k("c"))).toBe(0);
  });
});
