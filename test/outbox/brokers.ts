import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqp from "amqplib";
import { AckPolicy, connect, headers, type NatsConnection } from "nats";
import { natsPublisher, type OutboxPublisher, rabbitmqPublisher } from "../../src/outbox/index.js";
import { freePort } from "../support/free-port.js";

export const RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672";

/** Where a broker's test messages go: enough for a child process to publish there too. */
export type Target =
  | { readonly broker: "rabbitmq"; readonly exchange: string; readonly queue: string }
  | {
      readonly broker: "nats";
      readonly port: number;
      readonly stream: string;
      readonly subject: string;
    };

/** A publisher over a fresh client of its own, and how to end (or cut) that client. */
export interface OpenPublisher {
  readonly publisher: OutboxPublisher;
  close(): Promise<void>;
  /** Cuts the client's network connection, as a network failure would. */
  cut(): void;
}

/** Opens a publisher to `target` over a client of its own. */
export async function openPublisher(target: Target): Promise<OpenPublisher> {
  if (target.broker === "rabbitmq") {
    const connection = await amqp.connect(RABBITMQ_URL);
    connection.on("error", () => {});
    const channel = await connection.createConfirmChannel();
    channel.on("error", () => {});
    return {
      publisher: rabbitmqPublisher({ channel, exchange: target.exchange }),
      // A connection whose socket was cut never answers a close: do not wait on it for long.
      close: () => bounded(connection.close()),
      cut: () =>
        (
          connection as unknown as { connection: { stream: { destroy(): void } } }
        ).connection.stream.destroy(),
    };
  }
  const nc = await connect({
    servers: `127.0.0.1:${target.port}`,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 50,
  });
  return {
    publisher: natsPublisher({
      jetstream: nc.jetstream(),
      headers,
      subject: (topic) => `${target.subject}.${topic}`,
    }),
    close: () => bounded(nc.close()),
    cut: () => void nc.close(),
  };
}

/** Waits for `closing` at most half a second, ignoring its failure. */
function bounded(closing: Promise<unknown>): Promise<void> {
  return Promise.race([
    closing.then(
      () => {},
      () => {},
    ),
    new Promise<void>((r) => setTimeout(r, 500)),
  ]);
}

/** A nats-server of the test's own (JetStream, file storage in a directory of its own). */
export interface OwnNats {
  readonly port: number;
  /** SIGKILLs the server by its pid and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and store directory, and waits until it answers. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startOwnNats(): Promise<OwnNats> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "lockstep-nats-"));
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn(
      "/usr/sbin/nats-server",
      ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir],
      {
        stdio: "ignore",
      },
    );
    // Ready once a client can connect.
    for (let i = 0; ; i++) {
      try {
        const nc = await connect({ servers: `127.0.0.1:${port}`, reconnect: false });
        await nc.close();
        return;
      } catch (error) {
        if (i > 200) throw new Error(`nats-server on port ${port} did not start`, { cause: error });
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  };
  const kill = async () => {
    const running = proc;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const gone = new Promise((r) => running.once("exit", r));
    running.kill("SIGKILL");
    await gone;
  };
  await start();
  return {
    port,
    kill,
    start,
    close: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates the stream (NATS) or exchange and queue (RabbitMQ) of a test, with unique names. */
export async function createTarget(
  broker: "rabbitmq" | "nats",
  natsPort?: number,
): Promise<Target> {
  const unique = `lockstep_t_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  if (broker === "rabbitmq") {
    const connection = await amqp.connect(RABBITMQ_URL);
    try {
      const channel = await connection.createChannel();
      await channel.assertExchange(unique, "topic", { durable: false, autoDelete: false });
      await channel.assertQueue(unique, { durable: false, autoDelete: false });
      await channel.bindQueue(unique, unique, "#");
    } finally {
      await connection.close();
    }
    return { broker, exchange: unique, queue: unique };
  }
  const nc = await connect({ servers: `127.0.0.1:${natsPort}` });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: unique, subjects: [`${unique}.>`] });
    await jsm.consumers.add(unique, { durable_name: "consumer", ack_policy: AckPolicy.Explicit });
  } finally {
    await nc.close();
  }
  return { broker, port: natsPort as number, stream: unique, subject: unique };
}

/** Deletes what {@link createTarget} created. */
export async function deleteTarget(target: Target): Promise<void> {
  if (target.broker === "rabbitmq") {
    const connection = await amqp.connect(RABBITMQ_URL);
    try {
      const channel = await connection.createChannel();
      await channel.deleteQueue(target.queue);
      await channel.deleteExchange(target.exchange);
    } finally {
      await connection.close();
    }
    return;
  }
  const nc = await connect({ servers: `127.0.0.1:${target.port}` }).catch(() => undefined);
  if (nc === undefined) return;
  try {
    await (await nc.jetstreamManager()).streams.delete(target.stream);
  } finally {
    await nc.close();
  }
}

/** A running consumer: hands each message's id to `handle`, then acks it. */
export interface Consumer {
  close(): Promise<void>;
}

export async function consume(
  target: Target,
  handle: (messageId: string, body: unknown) => Promise<void>,
): Promise<Consumer> {
  if (target.broker === "rabbitmq") {
    const connection = await amqp.connect(RABBITMQ_URL);
    const channel = await connection.createChannel();
    await channel.prefetch(1);
    await channel.consume(target.queue, (msg) => {
      if (msg === null) return;
      void handle(String(msg.properties.messageId), JSON.parse(msg.content.toString())).then(() =>
        channel.ack(msg),
      );
    });
    return { close: () => connection.close() };
  }
  const nc: NatsConnection = await connect({
    servers: `127.0.0.1:${target.port}`,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 50,
  });
  const consumer = await nc.jetstream().consumers.get(target.stream, "consumer");
  const messages = await consumer.consume({ max_messages: 1 });
  void (async () => {
    for await (const m of messages) {
      await handle(String(m.headers?.get("Nats-Msg-Id")), m.json());
      m.ack();
    }
  })();
  return {
    close: async () => {
      await messages.close();
      await nc.close();
    },
  };
}
