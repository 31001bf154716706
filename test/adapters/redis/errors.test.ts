import Redis from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  classifyRedisError,
  type RedisStore,
  redisSet,
  redisStore,
} from "../../../src/adapters/redis/index.js";
import { classifyError } from "../../../src/core/error-kinds.js";
import type { ErrorKind } from "../../../src/model/error-kind.js";
import { storeFailure } from "../../conformance/transaction.js";
import { type RedisProxy, startRedisProxy } from "./redis-proxy.js";
import {
  closedPort,
  connectTestRedis,
  expectFirstVersion,
  type RedisTestClient,
} from "./redis-test-client.js";

function replyError(message: string): Error {
  const error = new Error(message);
  error.name = "ReplyError";
  return error;
}

function coded(code: string, syscall = "read"): Error {
  return Object.assign(new Error(`${syscall} ${code}`), { code, syscall });
}

describe("classifyRedisError", () => {
  it("maps reply errors, client-side refusals and lost connections to their kinds", () => {
    const maxRetries = new Error("Reached the max retries per request limit (which is 0).");
    maxRetries.name = "MaxRetriesPerRequestError";
    const cases: [unknown, ErrorKind | undefined][] = [
      [
        replyError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        "not_committed",
      ],
      [replyError("ERR syntax error"), "not_committed"],
      [replyError("ERR wrong number of arguments for 'set' command"), "not_committed"],
      [replyError("OOM command not allowed when used memory > 'maxmemory'."), "not_committed"],
      [replyError("NOSCRIPT No matching script."), "not_committed"],
      [replyError("EXECABORT Transaction discarded because of previous errors."), "not_committed"],
      [replyError("BUSY Redis is busy running a script."), "transient"],
      [replyError("LOADING Redis is loading the dataset in memory"), "transient"],
      [replyError("READONLY You can't write against a read only replica."), "transient"],
      [replyError("ERR user_script:3: Script attempted to access nonexistent global"), "unknown"],
      [replyError("SOMETHING new"), undefined],
      [maxRetries, "transient"],
      [new Error("Stream isn't writeable and enableOfflineQueue options is false"), "transient"],
      [coded("ECONNREFUSED", "connect"), "transient"],
      [coded("ETIMEDOUT", "connect"), "transient"],
      [coded("ECONNRESET"), "unknown"],
      [coded("EPIPE", "write"), "unknown"],
      [new Error("Connection is closed."), "unknown"],
      [new Error("Command timed out"), "unknown"],
      [new Error("something else"), undefined],
      [null, undefined],
    ];
    expect(cases, "every case is checked").toHaveLength(21);
    for (const [error, kind] of cases) {
      expect(classifyRedisError(error), String((error as Error | null)?.message)).toBe(kind);
    }
  });

  it("the core finds a Redis error behind a wrapper", () => {
    const wrapped = new Error("saving the claim failed", {
      cause: replyError("WRONGTYPE Operation against a key holding the wrong kind of value"),
    });
    expect(classifyError(wrapped, classifyRedisError)).toBe("not_committed");
  });

  it("recognizes a real WRONGTYPE reply from ioredis", async () => {
    const redis = await connectTestRedis();
    try {
      await redis.client.rpush(redis.key("list"), "x");
      const error = await redis.client.incr(redis.key("list")).catch((e: unknown) => e);
      expect(classifyRedisError(error)).toBe("not_committed");
    } finally {
      await redis.cleanup();
    }
  });
});

describe("Redis failures at the store boundary", () => {
  let redis: RedisTestClient;
  let proxy: RedisProxy;
  let proxied: Redis;
  let store: RedisStore;
  let k: (name: string) => string;

  beforeEach(async () => {
    redis = await connectTestRedis();
    proxy = await startRedisProxy();
    proxied = new Redis({ host: "127.0.0.1", port: proxy.port, lazyConnect: true });
    store = redisStore(proxied, { commandTimeoutMs: 60_000 });
    k = redis.key;
    // Open lockstep's connection through the proxy while it still passes replies, and have Redis
    // load both scripts, so that a dropped reply below is the write's, never a NOSCRIPT.
    await store.handle.apply(redisSet(k("warm-up"), 0));
    await store.handle.get(k("warm-up"));
  });
  afterEach(async () => {
    await store.close();
    proxied.disconnect();
    await proxy.close();
    await redis.cleanup();
  });

  it("Redis unreachable before anything is sent: transient, and nothing applied", async () => {
    const port = await closedPort();
    const unreachable = new Redis({ host: "127.0.0.1", port, lazyConnect: true });
    const refused = redisStore(unreachable);
    try {
      const error = await storeFailure(refused.handle.apply(redisSet(k("doc"), 1)));
      expect(error.kind).toBe("transient");
      expect(error.message).toContain("nothing was sent");
      expect(classifyError(error)).toBe("transient");
    } finally {
      await refused.close();
      unreachable.disconnect();
    }
  });

  it("a connection lost after the write was sent is unknown, and the write did land", async () => {
    proxy.mode = "drop-on-reply";
    const error = await storeFailure(store.handle.apply(redisSet(k("doc"), "landed")));
    expect(proxy.intercepted, "the reply must have been dropped").toBeGreaterThan(0);
    expect(error.kind, "a lost reply may not be reported as not applied").toBe("unknown");
    const stored = await redis.client.get(k("doc"));
    expect(stored, "Redis did run the write").toMatch(/^\{"v":\d+,"d":"landed"\}$/);
    expectFirstVersion((JSON.parse(stored ?? "{}") as { v?: number }).v ?? null);
  });

  it("after a lost connection the next call opens a fresh one and succeeds", async () => {
    proxy.mode = "drop-on-reply";
    await storeFailure(store.handle.apply(redisSet(k("doc"), 1)));
    proxy.mode = "pass";
    const first = expectFirstVersion((await store.handle.get(k("doc")))?.version ?? null);
    expect(await store.handle.apply(redisSet(k("doc"), 2, { ifVersion: first }))).toEqual({
      affected: 1,
      version: first + 1,
    });
  });

  it("aborting a write whose reply never comes settles at once as unknown; the write landed", async () => {
    proxy.mode = "hold";
    const controller = new AbortController();
    const pending = store.handle.apply(redisSet(k("doc"), "held"), { signal: controller.signal });
    while ((await redis.client.exists(k("doc"))) === 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    controller.abort(new Error("caller gave up"));
    const error = await storeFailure(pending);
    expect(error.kind).toBe("unknown");
    expect(error.message).toContain("may have been applied");
  });

  it("a command timeout is unknown and does not hang the caller", async () => {
    const timed = redisStore(proxied, { commandTimeoutMs: 50 });
    try {
      await timed.handle.apply(redisSet(k("warm-up"), 1));
      proxy.mode = "hold";
      const error = await storeFailure(timed.handle.apply(redisSet(k("doc"), "slow")));
      expect(error.kind).toBe("unknown");
      expect(classifyRedisError(error.cause)).toBe("unknown");
    } finally {
      await timed.close();
    }
  });

  it("a signal aborted before the call sends nothing and says not_committed", async () => {
    const controller = new AbortController();
    controller.abort(new Error("too late"));
    const error = await storeFailure(
      store.handle.apply(redisSet(k("doc"), 1), { signal: controller.signal }),
    );
    expect(error.kind).toBe("not_committed");
    expect(await redis.client.exists(k("doc"))).toBe(0);
  });

  it("a closed store refuses calls as not_committed and leaves the user's client open", async () => {
    const own = redisStore(redis.client);
    const { version } = await own.handle.apply(redisSet(k("doc"), 1));
    await own.close();
    const error = await storeFailure(own.handle.apply(redisSet(k("doc"), 2)));
    expect(error.kind).toBe("not_committed");
    expect((await store.handle.get(k("doc")))?.version, "the refused write did not land").toBe(
      expectFirstVersion(version),
    );
    expect(redis.client.status).toBe("ready");
    expect(await redis.client.ping(), "the client passed in is not lockstep's to close").toBe(
      "PONG",
    );
  });
});
