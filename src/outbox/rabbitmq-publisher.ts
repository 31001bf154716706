import { assertFunction, describeValue } from "../core/validate.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { type OutboxPublisher, type OutgoingMessage, PublishError } from "./publisher.js";

/**
 * What the publisher needs of an `amqplib` confirm channel (`connection.createConfirmChannel()`):
 * `publish` with a callback the broker's confirm (or nack) calls.
 */
export interface RabbitmqConfirmChannel {
  publish(
    exchange: string,
    routingKey: string,
    content: Uint8Array,
    options: {
      messageId?: string;
      headers?: Record<string, unknown>;
      persistent?: boolean;
      contentType?: string;
    },
    callback: (error: unknown) => void,
  ): boolean;
}

/** Options of {@link rabbitmqPublisher}. */
export interface RabbitmqPublisherOptions {
  /** A confirm channel of the user's own connection: a message counts once the broker confirms it. */
  readonly channel: RabbitmqConfirmChannel;
  /** The exchange messages are published to (`""` for the default exchange). */
  readonly exchange: string;
  /**
   * The routing key of a message with `topic`.
   * @default the topic itself
   */
  readonly routingKey?: (topic: string) => string;
  /**
   * Whether the broker writes messages to disk (`deliveryMode: 2`), so a confirmed message survives
   * a broker restart on a durable queue.
   * @default true
   */
  readonly persistent?: boolean;
}

type BufferLike = { from(data: ArrayBufferLike, offset: number, length: number): Uint8Array };

/**
 * An outbox publisher over RabbitMQ through the user's `amqplib` confirm channel. Each message is
 * published with its outbox id as `messageId` (and the `lockstep-message-id` header), persistent,
 * as `application/json`; `publish` resolves only when the broker confirms it, and rejects with a
 * {@link PublishError} when the broker nacks it, the channel is closed, or the relay's deadline
 * passes first. RabbitMQ does not dedupe by id: a consumer dedupes with an inbox.
 *
 * @example
 * ```ts
 * import amqp from "amqplib";
 * const connection = await amqp.connect("amqp://guest:guest@127.0.0.1:5672");
 * const channel = await connection.createConfirmChannel();
 * const publisher = rabbitmqPublisher({ channel, exchange: "orders" });
 * ```
 */
export function rabbitmqPublisher(options: RabbitmqPublisherOptions): OutboxPublisher {
  const channel = options?.channel;
  if (typeof channel?.publish !== "function") {
    throw new LockstepDefinitionError(
      `Expected \`channel\` to be an amqplib confirm channel (connection.createConfirmChannel()), got ${describeValue(channel)}.`,
    );
  }
  if (typeof options.exchange !== "string") {
    throw new LockstepDefinitionError(
      `Expected \`exchange\` to be a string (use "" for the default exchange), got ${describeValue(options.exchange)}.`,
    );
  }
  const routingKey = options.routingKey ?? ((topic: string) => topic);
  assertFunction("routingKey", routingKey);
  const persistent = options.persistent ?? true;
  const name = "RabbitMQ";
  return Object.freeze({
    name,
    publish(message: OutgoingMessage, signal: AbortSignal) {
      return new Promise<undefined>((resolve, reject) => {
        const fail = (reason: string, cause?: unknown) =>
          reject(new PublishError(name, message, reason, { cause }));
        if (signal.aborted) return fail("the relay gave up before publishing");
        const onAbort = () => fail("no confirm before the relay's deadline");
        signal.addEventListener("abort", onAbort, { once: true });
        try {
          channel.publish(
            options.exchange,
            routingKey(message.topic),
            toBuffer(message.body),
            {
              messageId: message.id,
              headers: { ...message.headers },
              persistent,
              contentType: "application/json",
            },
            (error) => {
              signal.removeEventListener("abort", onAbort);
              if (error === null || error === undefined) resolve(undefined);
              else
                fail(
                  `the broker did not confirm it (${String((error as Error)?.message ?? error)})`,
                  error,
                );
            },
          );
        } catch (error) {
          // amqplib throws at once when the channel is closed: nothing was sent.
          signal.removeEventListener("abort", onAbort);
          fail(`the channel refused it (${(error as Error)?.message ?? String(error)})`, error);
        }
      });
    },
  });
}

/** amqplib wants a Node `Buffer`; the relay hands over bytes. */
function toBuffer(body: Uint8Array): Uint8Array {
  const buffer = (globalThis as { Buffer?: BufferLike }).Buffer;
  return buffer === undefined ? body : buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
