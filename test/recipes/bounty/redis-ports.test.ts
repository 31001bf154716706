import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type RedisStore, redisStore } from "../../../src/adapters/redis/index.js";
import { StoreError } from "../../../src/index.js";
import { redisClaimStore, redisCredits } from "../../../src/recipes/bounty/index.js";
import { connectTestRedis, type RedisTestClient } from "../../adapters/redis/redis-test-client.js";

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;

/** The kind of the error `promise` rejects with. */
async function kindOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!StoreError.is(error)) throw new Error(`expected a StoreError, got ${String(error)}`);
  return error.kind;
}

describe("Redis bounty ports", () => {
  let redis: RedisTestClient;
  let store: RedisStore;
  const handle = () => store.handle;

  beforeEach(async () => {
    redis = await connectTestRedis();
    store = redisStore(redis.client, { watchConnections: 2 });
  });
  afterEach(async () => {
    await store.close();
    await redis.cleanup();
  });

  describe("redisClaimStore", () => {
    const claims = () => redisClaimStore(store, { keyPrefix: redis.key("") });
    const request = (claimId: string, agentId: string, now = NOW) => ({
      claimId,
      targetRef: "bounty:b1",
      agentId,
      leaseMs: HOUR,
      now,
    });

    it("of 20 agents claiming one target at once, exactly one holds an active claim", async () => {
      const port = claims();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          port.claimOrRenew(handle(), request(`c${i}`, `agent-${i}`)),
        ),
      );
      const won = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
      const lost = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason] : []));
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(19);
      for (const reason of lost) expect(StoreError.is(reason) && reason.kind).toBe("conflict");
      const listed = await port.list(handle());
      expect(listed).toEqual([won[0]?.claim]);
      expect(await port.get(handle(), won[0]?.claim.claimId as string)).toEqual(won[0]?.claim);
    });

    it("renews the same agent's claim, is idempotent by claim id, and never revives a released one", async () => {
      const port = claims();
      const first = await port.claimOrRenew(handle(), request("c1", "bob"));
      expect(first).toMatchObject({ renewed: false, claim: { claimId: "c1", status: "active" } });
      expect(await port.claimOrRenew(handle(), request("c1", "bob", NOW + 5))).toEqual(first);
      const renewed = await port.claimOrRenew(handle(), request("c2", "bob", NOW + 10));
      expect(renewed).toEqual({
        renewed: true,
        claim: { ...first.claim, leaseExpiresAt: NOW + 10 + HOUR },
      });
      expect(await kindOf(port.claimOrRenew(handle(), request("c3", "carol")))).toBe("conflict");
      expect(await port.release(handle(), "c1")).toBe(true);
      expect(await port.release(handle(), "c1"), "a second release changes nothing").toBe(false);
      expect(await kindOf(port.claimOrRenew(handle(), request("c1", "bob")))).toBe("not_committed");
      expect((await port.claimOrRenew(handle(), request("c3", "carol"))).claim.agentId).toBe(
        "carol",
      );
      expect((await port.complete(handle(), "c3")).status).toBe("completed");
      expect((await port.complete(handle(), "c3")).status).toBe("completed");
      expect(await kindOf(port.complete(handle(), "missing"))).toBe("not_committed");
      expect((await port.list(handle())).map((c) => [c.claimId, c.status])).toEqual([
        ["c1", "released"],
        ["c3", "completed"],
      ]);
    });

    it("lets another agent claim once the holder's lease has lapsed, marking it expired", async () => {
      const port = claims();
      await port.claimOrRenew(handle(), request("c1", "bob"));
      const taken = await port.claimOrRenew(handle(), request("c2", "carol", NOW + HOUR));
      expect(taken.claim).toMatchObject({ agentId: "carol", status: "active" });
      expect((await port.get(handle(), "c1"))?.status).toBe("expired");
    });
  });

  describe("redisCredits", () => {
    const ledger = async (balances: Record<string, number>) => {
      const port = redisCredits(store, { keyPrefix: redis.key("") });
      await port.seed(handle(), balances);
      return port;
    };
    const reserve = (id: string, amount = 10, agentId = "alice") => ({
      reservationId: id,
      agentId,
      amount,
      timeoutMs: HOUR,
      now: NOW,
    });

    it("never overdraws: of 30 concurrent reservations of 10 from 100 credits, exactly 10 hold", async () => {
      const credits = await ledger({ alice: 100, bob: 0 });
      const outcomes = await Promise.allSettled(
        Array.from({ length: 30 }, (_, i) => credits.reserve(handle(), reserve(`r${i}`))),
      );
      const held = outcomes.filter((o) => o.status === "fulfilled");
      const refused = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason] : []));
      expect(held).toHaveLength(10);
      expect(refused).toHaveLength(20);
      for (const reason of refused)
        expect(StoreError.is(reason) && reason.kind).toBe("not_committed");
      expect(await credits.balance(handle(), "alice")).toEqual({ available: 0, reserved: 100 });
      expect((await credits.list(handle())).map((r) => r.status)).toEqual(Array(10).fill("held"));
      expect(await credits.total(handle())).toBe(100);
    });

    it("conserves credits while captures, voids and repeats race on every reservation", async () => {
      const credits = await ledger({ alice: 100, bob: 0, carol: 0 });
      const ids = Array.from({ length: 10 }, (_, i) => `r${i}`);
      for (const id of ids) await credits.reserve(handle(), reserve(id));
      const capture = (id: string, to: string) =>
        credits.capture(handle(), {
          reservationId: id,
          toAgentId: to,
          idempotencyKey: `k-${id}`,
          now: NOW,
        });
      await Promise.allSettled(
        ids.flatMap((id) => [
          capture(id, "bob"),
          capture(id, "bob"),
          capture(id, "carol"),
          credits.void(handle(), id),
          credits.void(handle(), id),
        ]),
      );
      const reservations = await credits.list(handle());
      expect(reservations).toHaveLength(10);
      for (const r of reservations) expect(["captured", "voided"]).toContain(r.status);
      const to = (agent: string) =>
        reservations.filter((r) => r.status === "captured" && r.capturedTo === agent).length * 10;
      const voided = reservations.filter((r) => r.status === "voided").length * 10;
      expect(await credits.balance(handle(), "alice")).toEqual({ available: voided, reserved: 0 });
      expect(await credits.balance(handle(), "bob")).toEqual({ available: to("bob"), reserved: 0 });
      expect(await credits.balance(handle(), "carol")).toEqual({
        available: to("carol"),
        reserved: 0,
      });
      expect(voided + to("bob") + to("carol")).toBe(100);
      expect(await credits.total(handle()), "credits are conserved").toBe(100);
    });

    it("keeps reserve, capture and void idempotent, and refuses what the reservation forbids", async () => {
      const credits = await ledger({ alice: 100, bob: 0 });
      const held = await credits.reserve(handle(), reserve("r1", 30));
      expect(await credits.reserve(handle(), reserve("r1", 30))).toEqual(held);
      expect(await kindOf(credits.reserve(handle(), reserve("r1", 31)))).toBe("not_committed");
      const capture = (to: string, now = NOW) =>
        credits.capture(handle(), { reservationId: "r1", toAgentId: to, idempotencyKey: "k", now });
      const captured = await capture("bob");
      expect(captured).toMatchObject({ status: "captured", capturedTo: "bob" });
      expect(await capture("bob"), "a repeated capture is a no-op").toEqual(captured);
      expect(await kindOf(capture("carol")), "a capture's recipient never changes").toBe(
        "not_committed",
      );
      expect(await credits.void(handle(), "r1"), "void after capture is a no-op").toEqual(captured);
      expect(await credits.balance(handle(), "bob")).toEqual({ available: 30, reserved: 0 });

      await credits.reserve(handle(), reserve("r2", 20));
      expect((await credits.void(handle(), "r2")).status).toBe("voided");
      expect((await credits.void(handle(), "r2")).status).toBe("voided");
      expect(
        await kindOf(
          credits.capture(handle(), {
            reservationId: "r2",
            toAgentId: "bob",
            idempotencyKey: "k2",
            now: NOW,
          }),
        ),
      ).toBe("not_committed");
      await credits.reserve(handle(), reserve("r3", 20));
      expect(
        await kindOf(
          credits.capture(handle(), {
            reservationId: "r3",
            toAgentId: "bob",
            idempotencyKey: "k3",
            now: NOW + HOUR,
          }),
        ),
        "an expired hold cannot be captured",
      ).toBe("not_committed");
      expect(await kindOf(credits.void(handle(), "missing"))).toBe("not_committed");
      expect(await credits.balance(handle(), "alice")).toEqual({ available: 50, reserved: 20 });
      expect(await credits.total(handle())).toBe(100);
    });
  });
});
