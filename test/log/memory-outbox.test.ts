import { describe, expect, it } from "vitest";
import {
  MemorySagaLog,
  type NewOutboxMessage,
  OutboxStatus,
  SagaLogError,
  SagaStatus,
} from "../../src/index.js";
import { sagaRecord } from "../conformance/saga-log.js";

/**
 * The outbox of the memory saga log, as a relay uses it: claims that exclude each other by token
 * and lease, deliveries and failures only by the claim's holder, dead messages requeued by hand,
 * and messages written only with their saga's atomic writes.
 */

const message = (sagaId: string, index: number): NewOutboxMessage => ({
  messageId: `${sagaId}:ship:${index}`,
  sagaId,
  step: "ship",
  index,
  topic: "orders",
  message: { n: index },
  headers: {},
});

/** A log holding saga `sagaId`, created at time 0 with `count` messages. */
async function logWith(count: number, sagaId = "s-1"): Promise<MemorySagaLog> {
  const log = new MemorySagaLog();
  const messages = Array.from({ length: count }, (_, i) => message(sagaId, i));
  await log.create(sagaRecord(sagaId, { createdAt: 0, updatedAt: 0 }), [], messages);
  return log;
}

describe("the memory log's outbox", () => {
  it("refuses a message id it already holds, or one written twice at once, and writes nothing", async () => {
    const log = await logWith(1);
    const again = log.write("s-1", 1, { now: 1, messages: [message("s-1", 0)] });
    await expect(again).rejects.toMatchObject({
      reason: "exists",
      message: 'The outbox already holds a message with id "s-1:ship:0".',
    });
    const twice = log.write("s-1", 1, { now: 1, messages: [message("s-1", 5), message("s-1", 5)] });
    await expect(twice).rejects.toSatisfy(SagaLogError.is);
    expect((await log.outbox.messages()).map((m) => m.messageId)).toEqual(["s-1:ship:0"]);
  });

  it("claims at most `limit` messages, each under a new token and a lease of `ttlMs`", async () => {
    const log = await logWith(3);
    const claimed = await log.outbox.claim("relay-a", 500, 100, 2);
    expect(claimed.map((c) => [c.record.messageId, c.token, c.record.leaseOwner])).toEqual([
      ["s-1:ship:0", 1, "relay-a"],
      ["s-1:ship:1", 1, "relay-a"],
    ]);
    expect(claimed.map((c) => c.record.leaseExpiresAt)).toEqual([600, 600]);
    expect(await log.outbox.claim("relay-b", 500, 100, 0), "a limit of 0 claims nothing").toEqual(
      [],
    );
    // A second relay gets only what the first did not claim, until the first's lease lapses.
    expect((await log.outbox.claim("relay-b", 500, 599, 10)).map((c) => c.token)).toEqual([1]);
    const after = await log.outbox.claim("relay-b", 500, 600, 10);
    expect(after.map((c) => [c.record.messageId, c.token])).toEqual([
      ["s-1:ship:0", 2],
      ["s-1:ship:1", 2],
    ]);
  });

  it("lets only the claim's holder renew, deliver or fail a message", async () => {
    const log = await logWith(1);
    const [first] = await log.outbox.claim("relay-a", 500, 0, 1);
    const id = "s-1:ship:0";
    expect(await log.outbox.renew(id, first?.token ?? 0, 1_000, 400)).toBe(true);
    expect((await log.outbox.messages())[0]?.leaseExpiresAt).toBe(1_400);
    const [second] = await log.outbox.claim("relay-b", 500, 1_400, 1);
    const stale = first?.token ?? 0;
    expect(await log.outbox.renew(id, stale, 1_000, 1_500)).toBe(false);
    expect(await log.outbox.delivered(id, stale, 1_500)).toBe(false);
    const failure = { error: "broker down", dead: false, nextAt: 9_000 };
    expect(await log.outbox.failed(id, stale, failure, 1_500)).toBe(false);
    expect(await log.outbox.renew("no-such-id", 1, 1_000, 1_500)).toBe(false);
    expect(await log.outbox.delivered("no-such-id", 1, 1_500)).toBe(false);
    expect(await log.outbox.failed("no-such-id", 1, failure, 1_500)).toBe(false);
    expect(await log.outbox.delivered(id, second?.token ?? 0, 1_600)).toBe(true);
    const [delivered] = await log.outbox.messages();
    expect(delivered).toMatchObject({
      status: OutboxStatus.Delivered,
      attempts: 1,
      leaseOwner: null,
      leaseExpiresAt: null,
      deliveredAt: 1_600,
    });
    expect(await log.outbox.delivered(id, second?.token ?? 0, 1_700), "delivered once").toBe(false);
  });

  it("a failed delivery frees the claim and is retried at its time; a dead one waits for a requeue", async () => {
    const log = await logWith(1);
    const id = "s-1:ship:0";
    const [claim] = await log.outbox.claim("relay-a", 500, 0, 1);
    const retry = { error: "broker down", dead: false, nextAt: 2_000 };
    expect(await log.outbox.failed(id, claim?.token ?? 0, retry, 10)).toBe(true);
    // The failure freed the claim: its holder can no longer mark the message.
    expect(await log.outbox.delivered(id, claim?.token ?? 0, 11)).toBe(false);
    expect(await log.outbox.claim("relay-a", 500, 1_999, 1)).toEqual([]);
    const [again] = await log.outbox.claim("relay-a", 500, 2_000, 1);
    expect(again?.record.attempts).toBe(1);
    expect(await log.outbox.requeue(id, 2_100), "only a dead message is requeued").toBe(false);
    const dead = { error: "rejected", dead: true, nextAt: 0 };
    expect(await log.outbox.failed(id, again?.token ?? 0, dead, 2_100)).toBe(true);
    expect(await log.outbox.claim("relay-a", 500, 99_999, 1)).toEqual([]);
    expect(await log.outbox.requeue("no-such-id", 3_000)).toBe(false);
    expect(await log.outbox.requeue(id, 3_000)).toBe(true);
    expect((await log.outbox.messages())[0]).toMatchObject({
      status: OutboxStatus.Pending,
      attempts: 0,
      nextAt: 3_000,
      lastError: "rejected",
    });
    expect(await log.outbox.claim("relay-a", 500, 3_000, 1)).toHaveLength(1);
  });

  it("lists by saga, by status and up to a limit, in the order written", async () => {
    const log = await logWith(3, "s-1");
    await log.create(sagaRecord("s-2", { createdAt: 0, updatedAt: 0 }), [], [message("s-2", 0)]);
    const [claim] = await log.outbox.claim("relay", 500, 0, 1);
    await log.outbox.delivered("s-1:ship:0", claim?.token ?? 0, 1);
    const ids = async (filter: Parameters<typeof log.outbox.messages>[0]) =>
      (await log.outbox.messages(filter)).map((m) => m.messageId);
    expect(await ids({})).toEqual(["s-1:ship:0", "s-1:ship:1", "s-1:ship:2", "s-2:ship:0"]);
    expect(await ids({ sagaId: "s-2" })).toEqual(["s-2:ship:0"]);
    expect(await ids({ status: [OutboxStatus.Delivered] })).toEqual(["s-1:ship:0"]);
    expect(await ids({ status: [OutboxStatus.Pending], limit: 2 })).toEqual([
      "s-1:ship:1",
      "s-1:ship:2",
    ]);
    expect(await ids({ limit: 0 })).toEqual([]);
  });

  it("forgets a pruned saga's messages once none is pending, and keeps other sagas'", async () => {
    const log = await logWith(2, "s-1");
    await log.create(sagaRecord("s-2", { createdAt: 0, updatedAt: 0 }), [], [message("s-2", 0)]);
    for (const sagaId of ["s-1", "s-2"]) {
      await log.write(sagaId, 1, { now: 5, status: SagaStatus.Completed, releaseLease: true });
    }
    // s-3 is still running: it is not pruned, nor is its delivered message forgotten.
    await log.create(sagaRecord("s-3", { createdAt: 0, updatedAt: 0 }), [], [message("s-3", 0)]);
    const claims = await log.outbox.claim("relay", 500, 10, 10);
    for (const id of ["s-1:ship:0", "s-3:ship:0"]) {
      const claim = claims.find((c) => c.record.messageId === id);
      expect(await log.outbox.delivered(id, claim?.token ?? 0, 11)).toBe(true);
    }
    expect(await log.prune(100)).toBe(2);
    // s-1's delivered message goes with it; its pending one and s-2's pending one stay to be sent.
    expect((await log.outbox.messages()).map((m) => m.messageId)).toEqual([
      "s-1:ship:1",
      "s-2:ship:0",
      "s-3:ship:0",
    ]);
  });
});
