import { describe, expect, it } from "vitest";
import {
  type Clock,
  createRecoveryWorker,
  createRunner,
  LockstepDefinitionError,
  MemorySagaLog,
  OutboxStatus,
  type SagaLog,
  systemClock,
} from "../../src/index.js";
import {
  createRelay,
  type OutboxPublisher,
  type OutgoingMessage,
  PublishError,
  type RelayEvent,
} from "../../src/outbox/index.js";

/** A clock whose `now` the test moves; timers run on real time (the tests here wait on none). */
function movableClock(start = 1_700_000_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    setTimer: systemClock.setTimer,
    advance: (ms) => {
      now += ms;
    },
  };
}

/** Records three messages on `log`, one saga each. */
async function seed(log: MemorySagaLog, count = 3): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const sagaId = `s-${i}`;
    await log.create(
      {
        schemaVersion: 1,
        sagaId,
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
          messageId: `${sagaId}:step:0`,
          sagaId,
          step: "step",
          index: 0,
          topic: "t",
          message: { i },
          headers: {},
        },
      ],
    );
    ids.push(`${sagaId}:step:0`);
  }
  return ids;
}

/** A publisher that records what it got, and fails or hangs on demand. */
function fakePublisher(behaviour: (m: OutgoingMessage) => "ok" | "fail" | "hang" = () => "ok") {
  const sent: string[] = [];
  const publisher: OutboxPublisher = {
    name: "fake",
    async publish(message, signal) {
      const what = behaviour(message);
      if (what === "fail") throw new Error("connection refused");
      if (what === "hang") {
        await new Promise((_, reject) =>
          signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true }),
        );
      }
      sent.push(message.id);
      return undefined;
    },
  };
  return { publisher, sent };
}

describe("the relay", () => {
  it("delivers every pending message once and marks it delivered", async () => {
    const log = new MemorySagaLog();
    const ids = await seed(log);
    const { publisher, sent } = fakePublisher();
    const pass = await createRelay({ log, publisher }).runOnce();
    expect(pass).toMatchObject({ claimed: 3, delivered: 3, retried: 0, dead: 0, fenced: 0 });
    expect(sent).toEqual(ids);
    const statuses = (await log.outbox.messages()).map((m) => m.status);
    expect(statuses).toEqual([
      OutboxStatus.Delivered,
      OutboxStatus.Delivered,
      OutboxStatus.Delivered,
    ]);
    expect((await createRelay({ log, publisher }).runOnce()).claimed).toBe(0);
  });

  it("sends the body as JSON with the id in the headers", async () => {
    const log = new MemorySagaLog();
    await seed(log, 1);
    let got: OutgoingMessage | undefined;
    await createRelay({
      log,
      publisher: {
        name: "x",
        publish: async (m) => {
          got = m;
          return undefined;
        },
      },
    }).runOnce();
    expect(new TextDecoder().decode(got?.body)).toBe('{"i":0}');
    expect(got?.headers).toMatchObject({
      "lockstep-message-id": "s-0:step:0",
      "lockstep-saga-id": "s-0",
    });
  });

  it("a zombie relay whose claim was taken over neither publishes nor marks", async () => {
    const log = new MemorySagaLog();
    await seed(log, 1);
    const clock = movableClock();
    const zombie = await log.outbox.claim("zombie", 1_000, clock.now(), 10);
    clock.advance(5_000);
    const { publisher, sent } = fakePublisher();
    const live = await createRelay({
      log,
      publisher,
      clock,
      leaseMs: 1_000,
      publishTimeoutMs: 500,
    }).runOnce();
    expect(live.delivered).toBe(1);
    const [claim] = zombie;
    if (claim === undefined) throw new Error("the zombie claimed nothing");
    expect(await log.outbox.renew(claim.record.messageId, claim.token, 1_000, clock.now())).toBe(
      false,
    );
    expect(await log.outbox.delivered(claim.record.messageId, claim.token, clock.now())).toBe(
      false,
    );
    expect(
      await log.outbox.failed(
        claim.record.messageId,
        claim.token,
        { error: "x", dead: true, nextAt: 0 },
        0,
      ),
    ).toBe(false);
    expect(sent).toHaveLength(1);
    expect((await log.outbox.messages())[0]?.status).toBe(OutboxStatus.Delivered);
  });

  it("a relay that lost its claim mid-batch skips the message (fenced) instead of publishing it", async () => {
    const log = new MemorySagaLog();
    await seed(log, 2);
    const clock = movableClock();
    const events: RelayEvent[] = [];
    const { publisher, sent } = fakePublisher((m) => {
      // While the first is sent, the batch's claims lapse and another relay takes the second.
      if (m.id === "s-0:step:0") {
        clock.advance(10_000);
        void log.outbox.claim("other", 60_000, clock.now(), 10);
      }
      return "ok";
    });
    const pass = await createRelay({
      log,
      publisher,
      clock,
      leaseMs: 1_000,
      publishTimeoutMs: 500,
      onEvent: (e) => events.push(e),
    }).runOnce();
    expect(sent).toEqual(["s-0:step:0"]);
    expect(pass).toMatchObject({ claimed: 2, delivered: 0, fenced: 2 });
    expect(
      events
        .filter((e) => e.type === "relay.fenced")
        .map((e) => [e.messageId, "published" in e && e.published]),
    ).toEqual([
      ["s-0:step:0", true],
      ["s-1:step:0", false],
    ]);
  });

  it("retries a failed publish with backoff, then dead-letters it; requeue brings it back", async () => {
    const log = new MemorySagaLog();
    await seed(log, 1);
    const clock = movableClock();
    let failing = true;
    const { publisher, sent } = fakePublisher(() => (failing ? "fail" : "ok"));
    const events: RelayEvent[] = [];
    const relay = createRelay({
      log,
      publisher,
      clock,
      retry: { attempts: 3, initialDelayMs: 100, maxDelayMs: 1_000, jitter: 0 },
      onEvent: (e) => events.push(e),
    });
    const first = await relay.runOnce();
    expect(first).toMatchObject({ claimed: 1, retried: 1, dead: 0 });
    const [message] = await log.outbox.messages();
    expect(message).toMatchObject({ status: "pending", attempts: 1, nextAt: clock.now() + 100 });
    expect(message?.lastError).toContain(
      'fake did not take outbox message "s-0:step:0" (topic "t"): connection refused',
    );
    expect((await relay.runOnce()).claimed, "not due before its backoff").toBe(0);
    clock.advance(100);
    expect(await relay.runOnce()).toMatchObject({ retried: 1 });
    expect((await log.outbox.messages())[0]?.nextAt).toBe(clock.now() + 200);
    clock.advance(200);
    expect(await relay.runOnce()).toMatchObject({ dead: 1 });
    expect((await log.outbox.messages())[0]).toMatchObject({ status: "dead", attempts: 3 });
    clock.advance(60_000);
    expect((await relay.runOnce()).claimed, "a dead message is not retried").toBe(0);
    const failures = events.filter((e) => e.type === "relay.failed");
    expect(failures).toHaveLength(3);
    expect(failures.every((e) => e.type === "relay.failed" && PublishError.is(e.error))).toBe(true);
    failing = false;
    expect(await log.outbox.requeue("s-0:step:0", clock.now())).toBe(true);
    expect(await relay.runOnce()).toMatchObject({ delivered: 1 });
    expect(sent).toEqual(["s-0:step:0"]);
  });

  it("a publish that never confirms fails at the deadline and stays pending", async () => {
    const log = new MemorySagaLog();
    await seed(log, 1);
    const { publisher } = fakePublisher(() => "hang");
    const pass = await createRelay({
      log,
      publisher,
      publishTimeoutMs: 20,
      leaseMs: 1_000,
    }).runOnce();
    expect(pass).toMatchObject({ retried: 1, delivered: 0 });
    const [message] = await log.outbox.messages();
    expect(message).toMatchObject({ status: "pending", attempts: 1 });
    expect(message?.lastError).toContain("no confirmation within 20 ms");
  });

  it("a relay stopped mid-publish spends no attempt: the claim lapses and the message is sent again", async () => {
    const log = new MemorySagaLog();
    await seed(log, 1);
    const clock = movableClock();
    const stop = new AbortController();
    const { publisher } = fakePublisher(() => {
      stop.abort();
      return "hang";
    });
    const pass = await createRelay({
      log,
      publisher,
      clock,
      leaseMs: 1_000,
      publishTimeoutMs: 500,
    }).runOnce(stop.signal);
    expect(pass).toMatchObject({ claimed: 1, delivered: 0, retried: 0, dead: 0 });
    expect((await log.outbox.messages())[0]).toMatchObject({ status: "pending", attempts: 0 });
    clock.advance(1_000);
    const again = fakePublisher();
    expect(await createRelay({ log, publisher: again.publisher, clock }).runOnce()).toMatchObject({
      delivered: 1,
    });
  });

  it("the recovery worker runs a relay pass after its own", async () => {
    const log = new MemorySagaLog();
    await seed(log, 2);
    const { publisher, sent } = fakePublisher();
    const relay = createRelay({ log, publisher });
    const passes: unknown[] = [];
    const worker = createRecoveryWorker({
      runner: createRunner({ log }),
      sagas: [],
      relay,
      onEvent: (e) => {
        if (e.type === "recovery.pass") passes.push(e.relay);
        if (passes.length >= 2) void worker.stop();
      },
    });
    await worker.stopped;
    expect(passes[0]).toMatchObject({ claimed: 2, delivered: 2 });
    expect(sent).toHaveLength(2);
  });

  it("refuses bad options, naming the value", () => {
    const log = new MemorySagaLog();
    const { publisher } = fakePublisher();
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { log: { ...log, outbox: undefined } as unknown as SagaLog, publisher },
        /`log` to be a saga log with an outbox/,
      ],
      [{ log, publisher: { publish: 1 } }, /`publisher` to be an outbox publisher/],
      [{ log, publisher, batchSize: 0 }, /`batchSize` to be an integer >= 1, got `0`/],
      [{ log, publisher, leaseMs: Number.NaN }, /`leaseMs`.*`NaN`/],
      [
        { log, publisher, leaseMs: 1_000, publishTimeoutMs: 1_000 },
        /`publishTimeoutMs` to be less than `leaseMs`/,
      ],
      [{ log, publisher, retry: { attempts: 0 } }, /`retry.attempts`/],
    ];
    for (const [options, message] of cases) {
      expect(() => createRelay(options as never)).toThrow(LockstepDefinitionError);
      expect(() => createRelay(options as never)).toThrow(message);
    }
    expect(cases).toHaveLength(6);
  });
});
