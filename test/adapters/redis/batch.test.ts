import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  RedisPartialBatchError,
  type RedisStore,
  redisHincrby,
  redisHset,
  redisSet,
  redisStore,
} from "../../../src/adapters/redis/index.js";
import { decodeWriteReply } from "../../../src/adapters/redis/write-script.js";
import { ErrorCode, runAtomic, StoreError } from "../../../src/index.js";
import { openScope, storeFailure } from "../../conformance/transaction.js";
import { connectTestRedis, expectFirstVersion, type RedisTestClient } from "./redis-test-client.js";

describe("Redis batches", () => {
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

  it("premise: Redis's own MULTI/EXEC applies the commands around one that fails with WRONGTYPE", async () => {
    // Why batches are a checked Lua script: this is what a plain MULTI/EXEC batch would do.
    await redis.client.rpush(k("list"), "x");
    const replies = await redis.client
      .multi()
      .set(k("before"), "1")
      .incr(k("list"))
      .set(k("after"), "1")
      .exec();
    expect(replies?.[1]?.[0]?.message).toMatch(/^WRONGTYPE/);
    expect(await redis.client.mget(k("before"), k("after"))).toEqual(["1", "1"]);
  });

  it("a batch with a write Redis would answer WRONGTYPE applies nothing and names that write", async () => {
    await redis.client.rpush(k("list"), "x");
    const error = await storeFailure(
      store.batch(
        [redisSet(k("before"), 1), redisSet(k("list"), 2), redisSet(k("after"), 3)],
        openScope().scope,
      ),
    );
    expect(error.kind).toBe("not_committed");
    expect(error.index).toBe(1);
    expect(error.message).toContain("WRONGTYPE");
    expect(await redis.client.exists(k("before"), k("after")), "nothing may land").toBe(0);
  });

  it("guards see the writes before them in the same batch", async () => {
    const { version } = await store.handle.apply(redisSet(k("doc"), "created"));
    const first = expectFirstVersion(version);
    const results = await store.batch(
      [
        redisSet(k("doc"), "renamed", { ifVersion: first }),
        redisSet(k("doc"), "updated", { ifVersion: first + 1 }),
        redisHset(k("acct"), { balance: 5 }, { ifVersion: "absent" }),
        redisHincrby(k("acct"), "balance", -5, { min: 0 }),
      ],
      openScope().scope,
    );
    const created = expectFirstVersion(results[2]?.version ?? null);
    expect(results.map((r) => r.version)).toEqual([first + 1, first + 2, created, created + 1]);
    expect((await store.handle.get(k("doc")))?.value).toBe("updated");
    const overdraw = await storeFailure(
      store.batch(
        [redisHincrby(k("acct"), "balance", 3), redisHincrby(k("acct"), "balance", -4, { min: 0 })],
        openScope().scope,
      ),
    );
    expect(overdraw.kind, "the second debit sees the first credit: 0 + 3 - 4 < 0").toBe("conflict");
    expect(overdraw.index).toBe(1);
    expect((await store.handle.get(k("acct")))?.value).toEqual({ balance: "0" });
  });

  it("a partial reply is reported with what landed, never as nothing applied", () => {
    const outcome = decodeWriteReply(["partial", 2, "OOM command not allowed"], 3);
    expect(outcome).toEqual({ status: "partial", index: 2, message: "OOM command not allowed" });
    const error = new RedisPartialBatchError(2, "OOM command not allowed");
    expect(StoreError.is(error)).toBe(true);
    expect(error.kind, "a partly applied batch may not claim nothing applied").toBe("unknown");
    expect(error.index).toBe(2);
    expect(error.applied).toBe(2);
    expect(() => decodeWriteReply(["ok", 1, 1], 2), "a short reply is malformed").toThrow(
      "unexpected reply",
    );
  });

  describe("runAtomic on Redis", () => {
    const transfer = (amount: number, creditVersion: number) => [
      {
        name: "debit a",
        guarded: true,
        build: () => redisHincrby(k("a"), "balance", -amount, { min: 0 }),
      },
      {
        name: "credit b",
        guarded: true,
        build: () => redisHincrby(k("b"), "balance", amount, { ifVersion: creditVersion }),
      },
    ];
    const balances = async () =>
      Promise.all(
        ["a", "b"].map(async (name) => {
          const doc = await store.handle.get(k(name));
          return doc?.type === "hash" ? Number(doc.value.balance) : undefined;
        }),
      );

    /** The version `b` was created at. */
    let b: number;

    beforeEach(async () => {
      const created = await store.batch(
        [redisHset(k("a"), { balance: 10 }), redisHset(k("b"), { balance: 0 })],
        openScope().scope,
      );
      b = expectFirstVersion(created[1]?.version ?? null);
    });

    it("runs as a batch and applies every write", async () => {
      const report = (await runAtomic(store, transfer(4, b)))._unsafeUnwrap();
      expect(report.strategy).toBe("batch");
      expect(report.results.map((r) => r.value)).toEqual([6, 4]);
      expect(await balances()).toEqual([6, 4]);
    });

    it("a conflict on the second write names it and leaves nothing applied", async () => {
      await store.handle.apply(redisHincrby(k("b"), "balance", 7)); // b moves past its version
      const error = (await runAtomic(store, transfer(4, b)))._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.Conflict);
      if (error.code !== ErrorCode.Conflict) return;
      expect(error.index).toBe(1);
      expect(error.write).toBe("credit b");
      expect(await balances(), "the debit must not land without its credit").toEqual([10, 7]);
    });

    it("an overdraft (a min guard) is a conflict on the first write and leaves nothing applied", async () => {
      const error = (await runAtomic(store, transfer(11, b)))._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.Conflict);
      if (error.code === ErrorCode.Conflict) expect(error.index).toBe(0);
      expect(await balances()).toEqual([10, 0]);
    });

    it("require: atomic is satisfied by the batch", async () => {
      const report = (
        await runAtomic(store, transfer(1, b), { require: "atomic" })
      )._unsafeUnwrap();
      expect(report.strategy).toBe("batch");
      expect(await balances()).toEqual([9, 1]);
    });
  });
});
