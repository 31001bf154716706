import { describeValue } from "../core/validate.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import {
  type OutboxPublisher,
  type OutgoingMessage,
  PublishError,
  type PublishReceipt,
} from "./publisher.js";

/** Headers as the `nats` client builds them (`headers()` from `nats`). */
export interface NatsHeaders {
  set(name: string, value: string): void;
}

/** What the publisher needs of a `nats` JetStream client (`connection.jetstream()`). */
export interface NatsJetStream {
  publish(
    subject: string,
    payload?: Uint8Array,
    options?: { msgID?: string; headers?: NatsHeaders; timeout?: number },
  ): Promise<{ readonly duplicate: boolean }>;
}

/** Options of {@link natsPublisher}. */
export interface NatsPublisherOptions {
  /** A JetStream client of the user's own connection: a message counts once its stream acks it. */
  readonly jetstream: NatsJetStream;
  /**
   * The subject of a message with `topic`.
   * @default the topic itself
   */
  readonly subject?: (topic: string) => string;
  /**
   * Makes the headers sent with each message (pass `headers` from `nats`). Without it only the
   * message id is sent, as `Nats-Msg-Id`, which the client sets itself.
   * @default none
   */
  readonly headers?: () => NatsHeaders;
}

/**
 * An outbox publisher over NATS JetStream through the user's `nats` client. Each message is
 * published with its outbox id as `Nats-Msg-Id`, so the stream drops a copy it took within its
 * duplicate window (the relay counts that as delivered, `duplicate`); `publish` resolves once the
 * stream acks, and rejects with a {@link PublishError} when no stream takes the subject, the
 * connection is down, or the relay's deadline passes first.
 *
 * @example
 * ```ts
 * import { connect, headers } from "nats";
 * const nc = await connect({ servers: "127.0.0.1:4222" });
 * const publisher = natsPublisher({ jetstream: nc.jetstream(), headers });
 * ```
 */
export function natsPublisher(options: NatsPublisherOptions): OutboxPublisher {
  const jetstream = options?.jetstream;
  if (typeof jetstream?.publish !== "function") {
    throw new LockstepDefinitionError(
      `Expected \`jetstream\` to be a nats JetStream client (connection.jetstream()), got ${describeValue(jetstream)}.`,
    );
  }
  const subject = options.subject ?? ((topic: string) => topic);
  const makeHeaders = options.headers;
  const name = "NATS JetStream";
  return Object.freeze({
    name,
    async publish(message: OutgoingMessage, signal: AbortSignal): Promise<PublishReceipt> {
      if (signal.aborted)
        throw new PublishError(name, message, "the relay gave up before publishing");
      let headers: NatsHeaders | undefined;
      if (makeHeaders !== undefined) {
        headers = makeHeaders();
        for (const [key, value] of Object.entries(message.headers)) headers.set(key, value);
      }
      const aborted = new Promise<never>((_, reject) => {
        signal.addEventListener(
          "abort",
          () => reject(new PublishError(name, message, "no ack before the relay's deadline")),
          { once: true },
        );
      });
      aborted.catch(() => {});
      try {
        const ack = await Promise.race([
          jetstream.publish(subject(message.topic), message.body, {
            msgID: message.id,
            ...(headers === undefined ? {} : { headers }),
          }),
          aborted,
        ]);
        return { duplicate: ack.duplicate === true };
      } catch (error) {
        if (PublishError.is(error)) throw error;
        throw new PublishError(
          name,
          message,
          `the stream did not ack it (${(error as Error)?.message ?? String(error)})`,
          { cause: error },
        );
      }
    },
  });
}
