import { z } from "zod";

/** Where an outbox message stands. */
export const OutboxStatus = {
  /** Recorded and not yet confirmed by the broker: a relay delivers it. */
  Pending: "pending",
  /** The broker confirmed it. Terminal. */
  Delivered: "delivered",
  /** Its delivery failed until the relay's attempts ran out; it waits for an operator. */
  Dead: "dead",
} as const;

/** One of the values of {@link OutboxStatus}. */
export type OutboxStatus = (typeof OutboxStatus)[keyof typeof OutboxStatus];

/** Every outbox status, in the order the CLI lists them. */
export const OUTBOX_STATUSES: readonly OutboxStatus[] = Object.freeze(Object.values(OutboxStatus));

/**
 * An outbox message as a step's `publish` hands it over: a topic (a routing key, a subject) and a
 * body JSON can hold, with optional string headers.
 */
export interface OutboxMessageInput {
  /** Where the message goes: the routing key on RabbitMQ, the subject on NATS. */
  readonly topic: string;
  /** The body, kept and sent as JSON. A value JSON cannot hold is refused before anything commits. */
  readonly message: unknown;
  /** Extra headers sent with the message. @default none */
  readonly headers?: Readonly<Record<string, string>>;
}

/** An outbox message as the runner hands it to the log, numbered and named, before it is stored. */
export interface NewOutboxMessage {
  /** `<sagaId>:<step>:<index>`: the same on every retry and recovery of the step. */
  readonly messageId: string;
  readonly sagaId: string;
  readonly step: string;
  /** The message's position among its step's messages, from 0. */
  readonly index: number;
  readonly topic: string;
  readonly message: unknown;
  readonly headers: Readonly<Record<string, string>>;
}

/** An outbox message as a log keeps it, with its delivery state. */
export const outboxRecordSchema = z.object({
  messageId: z.string().min(1),
  sagaId: z.string().min(1),
  step: z.string().min(1),
  index: z.number().int().min(0),
  topic: z.string().min(1),
  message: z.unknown(),
  headers: z.record(z.string(), z.string()),
  status: z.enum(Object.values(OutboxStatus) as [OutboxStatus, ...OutboxStatus[]]),
  attempts: z.number().int().min(0),
  nextAt: z.number().int(),
  /** The relay fencing token: raised by every claim, so a relay whose claim was taken over cannot mark. */
  token: z.number().int().min(0),
  leaseOwner: z.string().nullable(),
  leaseExpiresAt: z.number().int().nullable(),
  lastError: z.string().nullable(),
  createdAt: z.number().int(),
  deliveredAt: z.number().int().nullable(),
});

/** An outbox message as a log keeps it, with its delivery state. */
export type OutboxRecord = z.infer<typeof outboxRecordSchema>;

/**
 * The id of a step's `index`-th outbox message: derived from the saga id and the step name, like the
 * step's key, so it exists before the step runs and is the same whoever records or relays it.
 */
export function outboxMessageId(sagaId: string, step: string, index: number): string {
  return `${sagaId}:${step}:${index}`;
}
