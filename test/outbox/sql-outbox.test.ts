import { describe, expect, it, onTestFinished } from "vitest";
import { createRunner, OutboxStatus } from "../../src/index.js";
import { createRelay, type OutboxPublisher } from "../../src/outbox/index.js";
import { checkoutSaga, ORDER_DBS, type OrdersDb } from "./outbox-world.js";

async function seeded(open: () => Promise<OrdersDb>, count: number): Promise<OrdersDb> {
  const orders = await open();
  onTestFinished(() => orders.close());
  const runner = createRunner({ log: orders.log });
  const saga = checkoutSaga(orders);
  for (let i = 0; i < count; i++) {
    const ran = await runner.run(saga, { orderId: `o-${i}`, total: i }, { sagaId: `s-${i}` });
    expect(ran.isOk()).toBe(true);
  }
  return orders;
}

describe("the SQL logs' outbox", () => {
  let cases = 0;
  for (const open of ORDER_DBS) {
    it(`${open.name}: two relays at once claim disjoint messages; each is published and marked once`, async () => {
      cases++;
      const orders = await seeded(open, 30);
      const published: string[] = [];
      // Relay 0 holds its first message until relay 1 has published one, so both must have
      // claimed messages of their own while the other's claims were live.
      let releaseFirst!: () => void;
      const relayOneSent = new Promise<void>((r) => {
        releaseFirst = r;
      });
      const publisherOf = (n: number): OutboxPublisher => ({
        name: "recorder",
        publish: async (message) => {
          if (n === 0 && published.length === 0) await relayOneSent;
          published.push(message.id);
          if (n === 1) releaseFirst();
          await new Promise((r) => setImmediate(r));
          return undefined;
        },
      });
      const relays = [0, 1].map((n) =>
        createRelay({ log: orders.log, publisher: publisherOf(n), owner: `r-${n}`, batchSize: 4 }),
      );
      const delivered = await Promise.all(
        relays.map(async (relay) => {
          let total = 0;
          for (;;) {
            const pass = await relay.runOnce();
            total += pass.delivered;
            expect(pass.fenced).toBe(0);
            if (pass.claimed === 0) return total;
          }
        }),
      );
      expect(delivered[0], `delivered: ${delivered}`).toBeGreaterThan(0);
      expect(delivered[1]).toBeGreaterThan(0);
      expect((delivered[0] ?? 0) + (delivered[1] ?? 0)).toBe(30);
      expect(new Set(published).size).toBe(30);
      expect(published).toHaveLength(30);
      const statuses = (await orders.log.outbox?.messages())?.map((m) => m.status);
      expect(statuses?.every((s) => s === OutboxStatus.Delivered)).toBe(true);
    });

    it(`${open.name}: a claim taken over is fenced: the old token can neither renew nor mark`, async () => {
      cases++;
      const orders = await seeded(open, 1);
      const outbox = orders.log.outbox;
      if (outbox === undefined) throw new Error("the log has no outbox");
      // Past the messages' recording, so they are due.
      const NOW = Date.now() + 60_000;
      const [old] = await outbox.claim("zombie", 1_000, NOW, 10);
      expect(old?.token).toBe(1);
      expect(await outbox.claim("other", 1_000, NOW + 500, 10)).toEqual([]);
      const [fresh] = await outbox.claim("other", 1_000, NOW + 1_000, 10);
      expect(fresh?.token).toBe(2);
      const id = "s-0:place:0";
      expect(await outbox.renew(id, 1, 1_000, NOW + 1_001)).toBe(false);
      expect(await outbox.delivered(id, 1, NOW + 1_001)).toBe(false);
      expect(await outbox.failed(id, 1, { error: "x", dead: true, nextAt: 0 }, NOW)).toBe(false);
      expect(await outbox.failed(id, 2, { error: "down", dead: true, nextAt: NOW }, NOW)).toBe(
        true,
      );
      const [dead] = await outbox.messages({ status: [OutboxStatus.Dead] });
      expect(dead).toMatchObject({ messageId: id, status: "dead", attempts: 1, lastError: "down" });
      expect(await outbox.claim("third", 1_000, NOW + 10_000, 10)).toEqual([]);
      expect(await outbox.requeue(id, NOW + 10_000)).toBe(true);
      const [again] = await outbox.claim("third", 1_000, NOW + 10_000, 10);
      expect(again?.record).toMatchObject({ attempts: 0, status: "pending" });
      expect(await outbox.delivered(id, again?.token ?? -1, NOW + 10_001)).toBe(true);
      expect((await outbox.messages())[0]).toMatchObject({ status: "delivered", attempts: 1 });
    });

    it(`${open.name}: pruning a saga removes its delivered messages and keeps pending ones`, async () => {
      cases++;
      const orders = await seeded(open, 2);
      const outbox = orders.log.outbox;
      if (outbox === undefined) throw new Error("the log has no outbox");
      // Past the messages' recording, so they are due.
      const NOW = Date.now() + 60_000;
      const claimed = await outbox.claim("r", 1_000, NOW, 1);
      expect(claimed, "a claim takes at most its limit").toHaveLength(1);
      const [first] = claimed;
      expect(await outbox.delivered(first?.record.messageId ?? "", first?.token ?? -1, NOW)).toBe(
        true,
      );
      expect(await orders.log.prune(Number.MAX_SAFE_INTEGER)).toBe(2);
      const left = await outbox.messages();
      expect(left.map((m) => [m.messageId, m.status])).toEqual([["s-1:place:0", "pending"]]);
    });
  }
  it("ran every case", () => expect(cases).toBe(ORDER_DBS.length * 3));
});
