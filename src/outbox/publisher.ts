import { hasBrand } from "../model/brand.js";
import type { OutboxRecord } from "../model/outbox.js";

/** One message as a relay hands it to a publisher. */
export interface OutgoingMessage {
  /** The stable message id (`<sagaId>:<step>:<index>`): send it as the broker's message id. */
  readonly id: string;
  /** The message's topic: a routing key, a subject. */
  readonly topic: string;
  /** The body, as UTF-8 JSON. */
  readonly body: Uint8Array;
  /**
   * The step's headers plus `lockstep-message-id` and `lockstep-saga-id`, so a consumer can dedupe
   * by id whatever the broker keeps of its own message id.
   */
  readonly headers: Readonly<Record<string, string>>;
  /** The outbox record the message comes from. */
  readonly record: OutboxRecord;
}

/** What the broker said when it took a message. */
export interface PublishReceipt {
  /**
   * The broker recognised the id and dropped this copy as a duplicate (NATS JetStream within its
   * duplicate window). The message was delivered before: it counts as delivered.
   * @default false
   */
  readonly duplicate?: boolean;
}

/**
 * Sends outbox messages to a broker. `publish` must resolve only once the broker has taken
 * responsibility for the message (a publisher confirm, a stream ack), and reject otherwise: a
 * relay marks a message delivered exactly when `publish` resolves. It receives the user's own
 * connection; lockstep never opens one.
 */
export interface OutboxPublisher {
  /** The broker's name in messages: `"RabbitMQ"`, `"NATS JetStream"`. */
  readonly name: string;
  /** Sends `message`; gives up when `signal` aborts (the relay's publish deadline). */
  publish(message: OutgoingMessage, signal: AbortSignal): Promise<PublishReceipt | undefined>;
}

const PUBLISH_ERROR_BRAND = Symbol.for("lockstep.publish-error");

/**
 * A delivery that failed: the broker refused or never confirmed the message, the connection was
 * down, or the deadline passed. The message stays pending (or goes dead once the relay's attempts
 * run out); nothing is marked delivered.
 */
export class PublishError extends Error {
  readonly [PUBLISH_ERROR_BRAND] = true;
  /** The message concerned. */
  readonly messageId: string;
  /** Its topic. */
  readonly topic: string;
  /** The publisher's broker. */
  readonly broker: string;

  constructor(
    broker: string,
    message: OutgoingMessage,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${broker} did not take outbox message "${message.id}" (topic "${message.topic}"): ${reason}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "PublishError";
    this.messageId = message.id;
    this.topic = message.topic;
    this.broker = broker;
  }

  /** Recognizes a publish error from any copy of lockstep (ESM or CJS). */
  static is(value: unknown): value is PublishError {
    return hasBrand(value, PUBLISH_ERROR_BRAND);
  }
}
