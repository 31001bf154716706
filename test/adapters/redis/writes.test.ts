import type Redis from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  REDIS_VERSION_FIELD,
  type RedisStore,
  type RedisWrite,
  redisDel,
  redisHincrby,
  redisHset,
  redisSet,
  redisStore,
} from "../../../src/adapters/redis/index.js";
import { LockstepDefinitionError } from "../../../src/model/definition-error.js";
import { storeFailure } from "../../conformance/transaction.js";
import { connectTestRedis, expectFirstVersion, type RedisTestClient } from "./redis-test-client.js";

describe("Redis writes", () => {
  let redis: RedisTestClient;
  let store: RedisStore;
  let k: (name: string) => string;

  beforeEach(async () => {
    redis = await connectTestRedis();
    store = redisStore(redis.client);
    k = redis.key;
  });
  afterEach(async () => {
    await store.close();
    await redis.cleanup();
  });

  it("a JSON document starts at a random version in [1, 2^52] and every applied write moves it on by one", async () => {
    const created = await store.handle.apply(redisSet(k("doc"), { n: 1 }));
    expect(created.affected).toBe(1);
    const first = expectFirstVersion(created.version);
    expect(await store.handle.apply(redisSet(k("doc"), { n: 2 }, { ifVersion: first }))).toEqual({
      affected: 1,
      version: first + 1,
    });
    expect(await store.handle.get(k("doc"))).toEqual({
      type: "json",
      value: { n: 2 },
      version: first + 1,
    });
    expect(await redis.client.get(k("doc")), "the stored form is the documented envelope").toBe(
      `{"v":${first + 1},"d":{"n":2}}`,
    );
    const other = await store.handle.apply(redisSet(k("other"), { n: 1 }));
    expect(
      expectFirstVersion(other.version),
      "each created document draws its own first version",
    ).not.toBe(first);
  });

  it("a guard that does not hold resolves with affected 0 and the current version", async () => {
    const { version } = await store.handle.apply(redisSet(k("doc"), "first"));
    const first = expectFirstVersion(version);
    expect(
      await store.handle.apply(redisSet(k("doc"), "second", { ifVersion: first + 7 })),
    ).toEqual({
      affected: 0,
      version: first,
    });
    expect(await store.handle.apply(redisSet(k("doc"), "second", { ifVersion: "absent" }))).toEqual(
      { affected: 0, version: first },
    );
    expect(await store.handle.apply(redisDel(k("missing"), { ifVersion: 1 }))).toEqual({
      affected: 0,
      version: null,
    });
    expect((await store.handle.get(k("doc")))?.value).toBe("first");
  });

  it("an unguarded delete of a missing key affects nothing; of a present one, deletes it", async () => {
    expect((await store.handle.apply(redisDel(k("none")))).affected).toBe(0);
    await store.handle.apply(redisSet(k("doc"), 1));
    expect(await store.handle.apply(redisDel(k("doc")))).toEqual({ affected: 1, version: null });
    expect(await store.handle.get(k("doc"))).toBeUndefined();
  });

  it("hset writes a hash document whose version lives in a reserved field", async () => {
    const created = await store.handle.apply(redisHset(k("acct"), { owner: "ann", balance: 10 }));
    const first = expectFirstVersion(created.version);
    await store.handle.apply(redisHset(k("acct"), { note: "vip" }, { ifVersion: first }));
    expect(await store.handle.get(k("acct"))).toEqual({
      type: "hash",
      value: { owner: "ann", balance: "10", note: "vip" },
      version: first + 1,
    });
    expect(await redis.client.hget(k("acct"), REDIS_VERSION_FIELD)).toBe(String(first + 1));
  });

  it("hincrby adds to an integer field and refuses, affecting nothing, to go below min", async () => {
    const created = await store.handle.apply(redisHset(k("acct"), { balance: 10 }));
    const first = expectFirstVersion(created.version);
    expect(await store.handle.apply(redisHincrby(k("acct"), "balance", -4, { min: 0 }))).toEqual({
      affected: 1,
      version: first + 1,
      value: 6,
    });
    expect(await store.handle.apply(redisHincrby(k("acct"), "balance", -7, { min: 0 }))).toEqual({
      affected: 0,
      version: first + 1,
    });
    expect((await store.handle.get(k("acct")))?.value).toEqual({ balance: "6" });
    expect(
      (await store.handle.apply(redisHincrby(k("new"), "count", 3))).value,
      "a missing field counts as 0",
    ).toBe(3);
  });

  it("hincrby on a field that is not an integer is refused as not_committed", async () => {
    const created = await store.handle.apply(redisHset(k("acct"), { balance: "ten" }));
    const first = expectFirstVersion(created.version);
    const error = await storeFailure(store.handle.apply(redisHincrby(k("acct"), "balance", 1)));
    expect(error.kind).toBe("not_committed");
    expect(error.message).toContain("is not an integer");
    expect((await store.handle.get(k("acct")))?.version, "nothing was written").toBe(first);
  });

  it("hincrby that would leave the safe integer range is refused as not_committed", async () => {
    await store.handle.apply(redisHset(k("acct"), { big: Number.MAX_SAFE_INTEGER - 1 }));
    const error = await storeFailure(store.handle.apply(redisHincrby(k("acct"), "big", 5)));
    expect(error.kind).toBe("not_committed");
    expect(error.message).toContain("safe integer range");
  });

  it("a write to a key of another type or format is refused as not_committed and changes nothing", async () => {
    await redis.client.rpush(k("list"), "x");
    await redis.client.set(k("raw"), "plain text");
    await store.handle.apply(redisHset(k("hash"), { a: 1 }));
    await store.handle.apply(redisSet(k("json"), 1));
    const cases: [RedisWrite, string][] = [
      [redisSet(k("list"), 1), "WRONGTYPE"],
      [redisSet(k("raw"), 1), "not a lockstep JSON document"],
      [redisSet(k("hash"), 1), "holds a hash document"],
      [redisHset(k("json"), { a: 1 }), "holds a JSON document"],
    ];
    expect(cases).toHaveLength(4);
    for (const [write, reason] of cases) {
      const error = await storeFailure(store.handle.apply(write));
      expect(error.kind, reason).toBe("not_committed");
      expect(error.message).toContain(reason);
    }
    expect(await redis.client.get(k("raw"))).toBe("plain text");
    expect(await redis.client.lrange(k("list"), 0, -1)).toEqual(["x"]);
  });

  it("the builders refuse malformed writes with definition errors naming the bad value", () => {
    const attempts: [() => unknown, string][] = [
      [() => redisSet("", 1), '""'],
      [() => redisSet("k", undefined), "undefined"],
      [() => redisSet("k", 1n), "BigInt"],
      [() => redisSet("k", 1, { ifVersion: 0 }), "`0` (number)"],
      [() => redisHset("k", { [REDIS_VERSION_FIELD]: 1 }), REDIS_VERSION_FIELD],
      [() => redisHset("k", {}), "got 0"],
      [() => redisHincrby("k", "f", 1.5), "`1.5` (number)"],
      [() => redisHincrby("k", "f", 1, { min: Number.NaN }), "NaN"],
    ];
    expect(attempts).toHaveLength(8);
    for (const [attempt, named] of attempts) {
      let thrown: unknown;
      try {
        attempt();
      } catch (error) {
        thrown = error;
      }
      expect(
        LockstepDefinitionError.is(thrown),
        `expected a definition error naming ${named}`,
      ).toBe(true);
      expect((thrown as Error).message).toContain(named);
    }
  });

  it("a hand-built malformed write is refused as not_committed before anything is sent", async () => {
    const bad = { op: "set", key: k("doc"), value: () => 1 } as unknown as RedisWrite;
    const error = await storeFailure(store.handle.apply(bad));
    expect(error.kind).toBe("not_committed");
    expect(LockstepDefinitionError.is(error.cause)).toBe(true);
    expect(await redis.client.exists(k("doc"))).toBe(0);
  });

  it("never sends a command on the client it was given", async () => {
    const sent: string[] = [];
    const client = redis.client as Redis & { sendCommand: Redis["sendCommand"] };
    const original = client.sendCommand.bind(client);
    client.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
      sent.push(command.name);
      return (original as (...args: unknown[]) => unknown)(command, ...rest);
    }) as Redis["sendCommand"];
    try {
      const { version } = await store.handle.apply(redisSet(k("doc"), 1));
      await store.handle.batch([
        redisSet(k("doc"), 2, { ifVersion: expectFirstVersion(version) }),
        redisHset(k("h"), { a: 1 }),
      ]);
      await store.handle.update(k("doc"), () => 3);
      await store.handle.get(k("doc"));
    } finally {
      client.sendCommand = original;
    }
    expect(sent, "every store command must go through lockstep's own connections").toEqual([]);
    expect((await store.handle.get(k("doc")))?.value, "and the writes did happen").toBe(3);
  });

  it("the default id names the server and database; an explicit id wins", () => {
    expect(store.id).toBe("redis://127.0.0.1:6379/0");
    const named = redisStore(redis.client, { id: "redis:ledger" });
    expect(named.id).toBe("redis:ledger");
  });

  it("declares atomicBatch and conditionalWrite, never transactions", () => {
    expect(store.capabilities).toEqual({
      transactions: false,
      atomicBatch: true,
      conditionalWrite: true,
      savepoints: false,
      versionsNeverReused: true,
    });
    expect(store.transaction).toBeUndefined();
  });

  it("refuses bad options with definition errors naming the bad value", () => {
    const attempts: [() => unknown, string][] = [
      [() => redisStore(redis.client, { commandTimeoutMs: 0 }), "`0` (number)"],
      [() => redisStore(redis.client, { watchConnections: 1.5 }), "`1.5` (number)"],
      [() => redisStore({} as Redis), "ioredis Redis client"],
      [() => redisStore({ duplicate: () => {}, isCluster: true } as unknown as Redis), "Cluster"],
    ];
    expect(attempts).toHaveLength(4);
    for (const [attempt, named] of attempts) {
      expect(attempt).toThrow(LockstepDefinitionError);
      expect(attempt).toThrow(named);
    }
  });
});
