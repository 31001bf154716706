import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { openSqlite, sqliteSagaLog, sqliteStore } from "../../src/adapters/sqlite/index.js";
import { createRunner, OutboxStatus, systemClock } from "../../src/index.js";
import { createInbox, createRelay, type RelayPass } from "../../src/outbox/index.js";
import { runProgram, tsxCommand } from "../support/run-program.js";
import { consume, type OpenPublisher, openPublisher, type Target } from "./brokers.js";
import { checkoutSaga, sqliteOrders } from "./outbox-world.js";

const CHILD = fileURLToPath(new URL("./relay-child.ts", import.meta.url));
const HOUR = 3_600_000;

/** What a relay child process published before it ended or was killed. */
interface ChildRun {
  readonly signal: string | null;
  readonly code: number | null;
  readonly published: { published: string; duplicate: boolean }[];
  readonly stderr: string;
}

async function runChild(
  dir: string,
  target: Target,
  killAfter: number,
  ahead: number,
): Promise<ChildRun> {
  const run = await runProgram(tsxCommand(CHILD), {
    env: {
      DIR: dir,
      TARGET: JSON.stringify(target),
      KILL_AFTER: String(killAfter),
      AHEAD_MS: String(ahead),
    },
  });
  return {
    code: run.code,
    signal: run.signal,
    stderr: run.stderr,
    published: run.stdout
      .split("\n")
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l)),
  };
}

/** How the suite disrupts the broker in its middle phase. */
export interface Disruption {
  /** What the counts call it: `brokerRestarts` or `connectionKills`. */
  readonly counted: "brokerRestarts" | "connectionKills";
  /** Disrupts the broker (or the relay's connection to it) while `relay` holds `client`. */
  cut(client: OpenPublisher): Promise<void>;
  /** Makes the broker reachable again. */
  restore(): Promise<void>;
}

/** The counts a run of the suite prints and asserts. */
export interface SuiteCounts {
  readonly broker: string;
  readonly messages: number;
  readonly relayKills: number;
  readonly brokerRestarts: number;
  readonly connectionKills: number;
  readonly delivered: number;
  readonly received: number;
  readonly duplicatesDropped: number;
  readonly brokerDuplicates: number;
  readonly lost: number;
}

const add = (into: Record<string, number>, pass: RelayPass) => {
  for (const [k, v] of Object.entries(pass)) into[k] = (into[k] ?? 0) + v;
};

/**
 * The outbox end to end on a real broker: MESSAGES checkout sagas record one message each (co-
 * committed with their order rows in a SQLite file); relay child processes are SIGKILLed right
 * after a broker confirmation and before the mark, KILLS times; the broker (or the connection) is
 * then disrupted under an in-process relay and restored; finally two relays run at once until
 * nothing is left. A consumer dedupes through an inbox in its own SQLite database. Every message
 * must be delivered and handled once; duplicates only where the broker allowed them.
 */
export async function runRelaySuite(target: Target, disruption: Disruption): Promise<SuiteCounts> {
  const MESSAGES = 24;
  const KILLS = 3;
  const dir = mkdtempSync(join(tmpdir(), "lockstep-relay-"));
  const orders = await sqliteOrders(dir);
  const consumerDb = openSqlite(join(dir, "consumer.db"));
  const consumerStore = sqliteStore(consumerDb);
  const inbox = createInbox({ dialect: "sqlite" });
  await consumerStore.handle.run(inbox.createTable);
  await consumerStore.handle.run(
    "CREATE TABLE handled (message_id TEXT PRIMARY KEY, order_id TEXT NOT NULL)",
  );
  let received = 0;
  let dropped = 0;
  const consumer = await consume(target, async (messageId, body) => {
    await consumerStore.transaction(
      async (tx) => {
        if (!(await inbox.receive(tx, messageId))) {
          dropped++;
          return;
        }
        await tx.run("INSERT INTO handled (message_id, order_id) VALUES (?, ?)", [
          messageId,
          (body as { orderId: string }).orderId,
        ]);
      },
      { signal: AbortSignal.timeout(10_000), deadline: Date.now() + 10_000 },
    );
    received++;
  });
  const cleanup: (() => Promise<unknown> | unknown)[] = [
    () => consumer.close(),
    () => consumerDb.close(),
    () => orders.close(),
    () => rmSync(dir, { recursive: true, force: true }),
  ];
  try {
    const runner = createRunner({ log: orders.log });
    const saga = checkoutSaga(orders);
    for (let i = 0; i < MESSAGES; i++) {
      const ran = await runner.run(saga, { orderId: `o-${i}`, total: i }, { sagaId: `s-${i}` });
      expect(ran.isOk(), `checkout ${i} must complete`).toBe(true);
    }
    const ids = new Set((await orders.log.outbox?.messages())?.map((m) => m.messageId));
    expect(ids.size).toBe(MESSAGES);

    // 1. Relays stopped between the broker's confirmation and the mark: a child process
    //    SIGKILLed there, and relays frozen there by a crash switch (their publish never returns
    //    after the confirm), which wake up as zombies once their deadline passes.
    let brokerDuplicates = 0;
    const killed = await runChild(dir, target, 3, 0);
    expect(killed.signal, `the relay child must die by SIGKILL: ${killed.stderr}`).toBe("SIGKILL");
    expect(killed.published).toHaveLength(3);
    brokerDuplicates += killed.published.filter((p) => p.duplicate).length;
    const zombies: Promise<unknown>[] = [];
    for (let z = 0; z < KILLS - 1; z++) {
      const client = await openPublisher(target);
      cleanup.unshift(() => client.close());
      let frozen!: () => void;
      const reachedSwitch = new Promise<void>((r) => (frozen = r));
      let sent = 0;
      const relay = createRelay({
        log: orders.log,
        owner: `frozen-${z}`,
        batchSize: 5,
        leaseMs: 60_000,
        publishTimeoutMs: 500,
        publisher: {
          name: client.publisher.name,
          async publish(message, signal) {
            const receipt = await client.publisher.publish(message, signal);
            if (++sent === 2) {
              frozen();
              return new Promise<never>(() => {});
            }
            return receipt;
          },
        },
      });
      zombies.push(relay.runOnce().catch(() => undefined));
      await reachedSwitch;
    }
    const relayKills = KILLS;

    // 2. The broker (or the relay's connection) goes away under a relay, then comes back.
    const clock = { now: () => Date.now() + HOUR, setTimer: systemClock.setTimer };
    const tallies: Record<string, number> = {};
    const client = await openPublisher(target);
    cleanup.unshift(() => client.close());
    const relay = createRelay({
      log: orders.log,
      publisher: client.publisher,
      clock,
      batchSize: 2,
      leaseMs: 60_000,
      publishTimeoutMs: 300,
      retry: { attempts: 20, initialDelayMs: 1, maxDelayMs: 1, jitter: 0 },
    });
    add(tallies, await relay.runOnce());
    await disruption.cut(client);
    const failedPass = await relay.runOnce();
    add(tallies, failedPass);
    expect(
      failedPass.retried,
      "publishing to a broker that is gone must fail and be retried",
    ).toBeGreaterThan(0);
    expect(failedPass.delivered).toBe(0);
    await disruption.restore();

    // 3. Two relays at once, each on its own connection to the log and to the broker.
    const later = { now: () => Date.now() + 2 * HOUR, setTimer: systemClock.setTimer };
    const pair = await Promise.all(
      [0, 1].map(async (n) => {
        const db = openSqlite(join(dir, "orders.db"));
        const own = await openPublisher(target);
        cleanup.unshift(
          () => own.close(),
          () => db.close(),
        );
        return createRelay({
          log: sqliteSagaLog(db, { coCommitWith: "orders-db" }),
          publisher: own.publisher,
          owner: `pair-${n}`,
          clock: later,
          batchSize: 3,
          leaseMs: 60_000,
          publishTimeoutMs: 5_000,
        });
      }),
    );
    const drain = async (r: (typeof pair)[number]) => {
      for (;;) {
        const pass = await r.runOnce();
        add(tallies, pass);
        if (pass.claimed === 0) return;
      }
    };
    await Promise.all(pair.map(drain));
    brokerDuplicates += tallies.duplicates ?? 0;

    await Promise.all(zombies);
    const records = (await orders.log.outbox?.messages()) ?? [];
    const delivered = records.filter((m) => m.status === OutboxStatus.Delivered).length;
    expect(delivered, "every message must be marked delivered").toBe(MESSAGES);

    // Every copy the broker took reaches the consumer; wait for them all to be handled.
    const handled = async () =>
      (
        await consumerStore.handle.all<{ message_id: string }>("SELECT message_id FROM handled")
      ).map((r) => r.message_id);
    for (let i = 0; (await handled()).length < MESSAGES; i++) {
      if (i > 400) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    // Let copies still in flight arrive: the broker holds none once its queue is drained.
    await new Promise((r) => setTimeout(r, 300));
    const got = new Set(await handled());
    const lost = [...ids].filter((id) => !got.has(id)).length;
    const counts: SuiteCounts = {
      broker: target.broker,
      messages: MESSAGES,
      relayKills,
      brokerRestarts: disruption.counted === "brokerRestarts" ? 1 : 0,
      connectionKills: disruption.counted === "connectionKills" ? 1 : 0,
      delivered,
      received,
      duplicatesDropped: dropped,
      brokerDuplicates,
      lost,
    };
    console.log(`outbox relay suite: ${JSON.stringify(counts)}`);
    expect(lost, "no message may be lost").toBe(0);
    expect(got.size).toBe(MESSAGES);
    expect(received, "every copy received is handled once or dropped by the inbox").toBe(
      MESSAGES + dropped,
    );
    expect(
      (await consumerStore.handle.get<{ n: number }>("SELECT count(*) AS n FROM lockstep_inbox"))
        ?.n,
    ).toBe(MESSAGES);
    return counts;
  } finally {
    for (const step of cleanup) await step();
  }
}
