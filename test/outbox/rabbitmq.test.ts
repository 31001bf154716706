import amqp from "amqplib";
import { describe, expect, it, onTestFinished } from "vitest";
import { MemorySagaLog } from "../../src/index.js";
import {
  createRelay,
  PublishError,
  type RelayEvent,
  rabbitmqPublisher,
} from "../../src/outbox/index.js";
import { createTarget, deleteTarget, RABBITMQ_URL } from "./brokers.js";
import { runRelaySuite } from "./relay-suite.js";

describe("the outbox relayed to RabbitMQ (publisher confirms)", () => {
  it("relay kills, a connection cut mid-run and two relays at once: every message delivered, none lost, duplicates dropped by the inbox", async () => {
    const target = await createTarget("rabbitmq");
    onTestFinished(() => deleteTarget(target));
    // RabbitMQ is shared here and never restarted: the relay's own connection is cut instead.
    const counts = await runRelaySuite(target, {
      counted: "connectionKills",
      cut: async (client) => {
        client.cut();
        await new Promise((r) => setTimeout(r, 50));
      },
      restore: async () => {},
    });
    expect(counts.relayKills).toBe(3);
    expect(counts.connectionKills).toBe(1);
    expect(counts.lost).toBe(0);
    expect(counts.delivered).toBe(counts.messages);
    // Each killed relay's confirmed message was published again: RabbitMQ keeps both copies.
    expect(counts.duplicatesDropped).toBeGreaterThanOrEqual(counts.relayKills);
  }, 60_000);

  it("a closed channel is a typed error naming the message; nothing is marked, nothing is lost", async () => {
    const log = new MemorySagaLog();
    await log.create(
      {
        schemaVersion: 1,
        sagaId: "s",
        definition: { name: "n", version: 1, steps: [] },
        input: {},
        status: "completed",
        attention: null,
        fencingToken: 1,
        leaseOwner: null,
        leaseExpiresAt: null,
        recoveryAttempts: 0,
        nextRecoveryAt: 0,
        createdAt: 1,
        updatedAt: 1,
      },
      [],
      [
        {
          messageId: "s:step:0",
          sagaId: "s",
          step: "step",
          index: 0,
          topic: "t",
          message: 1,
          headers: {},
        },
      ],
    );
    const connection = await amqp.connect(RABBITMQ_URL);
    const channel = await connection.createConfirmChannel();
    await connection.close();
    const events: RelayEvent[] = [];
    const pass = await createRelay({
      log,
      publisher: rabbitmqPublisher({ channel, exchange: "" }),
      onEvent: (e) => events.push(e),
    }).runOnce();
    expect(pass).toMatchObject({ claimed: 1, delivered: 0, retried: 1 });
    const failed = events.find((e) => e.type === "relay.failed");
    expect(failed?.type === "relay.failed" && PublishError.is(failed.error)).toBe(true);
    expect(failed?.type === "relay.failed" && (failed.error as PublishError).messageId).toBe(
      "s:step:0",
    );
    expect((failed?.type === "relay.failed" && (failed.error as Error).message) || "").toMatch(
      /^RabbitMQ did not take outbox message "s:step:0" \(topic "t"\): the channel refused it/,
    );
    expect((await log.outbox.messages())[0]).toMatchObject({ status: "pending", attempts: 1 });
  });

  it("refuses a channel that is not one, naming the value", () => {
    expect(() => rabbitmqPublisher({ channel: "amqp://x" as never, exchange: "" })).toThrow(
      /Expected `channel` to be an amqplib confirm channel .*got `"amqp:\/\/x"` \(string\)/,
    );
  });
});
