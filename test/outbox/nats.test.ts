import { connect, headers } from "nats";
import { describe, expect, it, onTestFinished } from "vitest";
import { MemorySagaLog } from "../../src/index.js";
import {
  createRelay,
  natsPublisher,
  PublishError,
  type RelayEvent,
} from "../../src/outbox/index.js";
import { createTarget, deleteTarget, startOwnNats } from "./brokers.js";
import { runRelaySuite } from "./relay-suite.js";

describe("the outbox relayed to NATS JetStream (Nats-Msg-Id dedupe)", () => {
  it("relay kills, a broker restart and two relays at once: every message delivered, none lost, duplicates dropped by the stream", async () => {
    // A nats-server of the test's own: it is killed and restarted by its pid, never the shared one.
    const nats = await startOwnNats();
    onTestFinished(() => nats.close());
    const target = await createTarget("nats", nats.port);
    onTestFinished(() => deleteTarget(target));
    const counts = await runRelaySuite(target, {
      counted: "brokerRestarts",
      cut: () => nats.kill(),
      restore: () => nats.start(),
    });
    expect(counts.relayKills).toBe(3);
    expect(counts.brokerRestarts).toBe(1);
    expect(counts.lost).toBe(0);
    expect(counts.delivered).toBe(counts.messages);
    // Each killed relay's confirmed message was published again within the duplicate window: the
    // stream recognised the id and kept one copy.
    expect(counts.brokerDuplicates).toBeGreaterThanOrEqual(counts.relayKills);
  }, 25_000);

  it("an unreachable broker is a typed error naming the message; nothing is marked, nothing is lost", async () => {
    const nats = await startOwnNats();
    onTestFinished(() => nats.close());
    const nc = await connect({ servers: `127.0.0.1:${nats.port}`, reconnect: false });
    await nats.kill();
    await nc.closed();
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
          topic: "t.x",
          message: 1,
          headers: {},
        },
      ],
    );
    const events: RelayEvent[] = [];
    const pass = await createRelay({
      log,
      publisher: natsPublisher({ jetstream: nc.jetstream(), headers }),
      onEvent: (e) => events.push(e),
    }).runOnce();
    expect(pass).toMatchObject({ claimed: 1, delivered: 0, retried: 1 });
    const failed = events.find((e) => e.type === "relay.failed");
    const error = failed?.type === "relay.failed" ? failed.error : undefined;
    expect(PublishError.is(error)).toBe(true);
    expect((error as PublishError).broker).toBe("NATS JetStream");
    expect((error as Error).message).toMatch(
      /^NATS JetStream did not take outbox message "s:step:0" \(topic "t.x"\)/,
    );
    expect((await log.outbox.messages())[0]).toMatchObject({ status: "pending", attempts: 1 });
  });

  it("refuses a client that is not a JetStream client, naming the value", () => {
    expect(() => natsPublisher({ jetstream: 4222 as never })).toThrow(
      /Expected `jetstream` to be a nats JetStream client .*got `4222` \(number\)/,
    );
  });
});
