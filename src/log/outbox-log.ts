import type { OutboxRecord, OutboxStatus } from "../model/outbox.js";

/** An outbox message a relay claimed, with the relay fencing token it must mark it with. */
export interface ClaimedMessage {
  readonly record: OutboxRecord;
  /** The message's relay token after the claim: `delivered` and `failed` refuse any other. */
  readonly token: number;
}

/** What a failed delivery changes: the next try's time, or dead-lettering. */
export interface DeliveryFailure {
  /** What went wrong, kept as the message's `lastError`. */
  readonly error: string;
  /** Moves the message to `dead` instead of scheduling another try. */
  readonly dead: boolean;
  /** When the next try may start (ignored when `dead`). */
  readonly nextAt: number;
}

/** Filters for {@link OutboxLog.messages}. */
export interface OutboxFilter {
  /** Only this saga's messages. @default every saga */
  readonly sagaId?: string;
  /** Only messages in one of these statuses. @default every status */
  readonly status?: readonly OutboxStatus[];
  /** At most this many, the oldest first. @default all */
  readonly limit?: number;
}

/**
 * The outbox side of a saga log: messages recorded with a saga's writes (`SagaChange.messages`),
 * claimed by relays under a lease with a fencing token of their own, and marked delivered or failed
 * only under that token. Present on logs that record outbox messages (`SagaLog.outbox`); a runner
 * refuses to start a saga that publishes on a log without it.
 *
 * What every implementation must guarantee:
 * - messages are recorded in the same atomic write as the change that carries them, or not at all;
 * - `claim` takes only `pending` messages that are due and whose lease is free or expired, each by
 *   compare-and-set, raising its token, so two relays never hold the same message at once;
 * - `renew`, `delivered` and `failed` change nothing and answer `false` unless the message's token
 *   is still the caller's and it is still `pending`: a relay whose claim was taken over (a zombie)
 *   can neither keep nor mark it.
 */
export interface OutboxLog {
  /** Claims up to `limit` due pending messages for `owner`, oldest first, leased for `ttlMs`. */
  claim(
    owner: string,
    ttlMs: number,
    now: number,
    limit: number,
  ): Promise<readonly ClaimedMessage[]>;
  /** Extends a claim; `false` when the message was claimed by another relay or is no longer pending. */
  renew(messageId: string, token: number, ttlMs: number, now: number): Promise<boolean>;
  /** Marks a claimed message delivered; `false` (and nothing changed) for a stale token. */
  delivered(messageId: string, token: number, now: number): Promise<boolean>;
  /** Records a failed delivery and frees the claim; `false` (and nothing changed) for a stale token. */
  failed(messageId: string, token: number, failure: DeliveryFailure, now: number): Promise<boolean>;
  /** Reads messages, oldest first. */
  messages(filter?: OutboxFilter): Promise<readonly OutboxRecord[]>;
  /** Moves a `dead` message back to `pending`, due at `now`, its attempts reset. Returns whether it did. */
  requeue(messageId: string, now: number): Promise<boolean>;
}
