import { sleep } from "../core/clock.js";
import { callWithDeadline } from "../core/deadline.js";
import { messageOf } from "../core/message-of.js";
import { backoffDelay } from "../core/retry.js";
import type { ClaimedMessage } from "../log/outbox-log.js";
import { type OutgoingMessage, PublishError, type PublishReceipt } from "./publisher.js";
import type { RelayEvent, RelayPass } from "./relay-events.js";
import { type RelayOptions, type RelaySettings, resolveRelaySettings } from "./relay-options.js";

/** Delivers a saga log's outbox to a broker: see {@link createRelay}. */
export interface Relay {
  /** Its name in claim records. */
  readonly owner: string;
  /**
   * Claims the due pending messages (up to `batchSize`) and delivers each: publish, then mark
   * delivered under the claim's token. Resolves with what it did; rejects only when the log fails.
   */
  runOnce(signal?: AbortSignal): Promise<RelayPass>;
  /**
   * Runs passes until `signal` aborts: at once while passes find work, `pollIntervalMs` apart
   * once one finds none. A pass the log fails is retried after the same wait. Resolves with the
   * totals once stopped.
   */
  run(signal: AbortSignal): Promise<RelayPass>;
}

const EMPTY: RelayPass = {
  claimed: 0,
  delivered: 0,
  duplicates: 0,
  retried: 0,
  dead: 0,
  fenced: 0,
};
const encoder = new TextEncoder();

/**
 * Creates a relay: it delivers outbox messages at least once, each with its stable id, over the
 * user's own broker connection (`publisher`).
 *
 * Each message is claimed under a lease with a fencing token of its own, raised by every claim.
 * Before publishing, the relay renews its claim, so a relay that paused past its lease (a zombie)
 * finds its token stale and publishes nothing; it marks a message delivered only under its token,
 * and only once the broker has confirmed it. A crash between the confirm and the mark leaves the
 * message pending: it is published again after the claim expires, with the same id, so a broker
 * that dedupes by id (NATS JetStream) drops the copy and a consumer that dedupes (an inbox) drops
 * what gets through. A failed try is retried with backoff; once `retry.attempts` run out the
 * message goes `dead`.
 *
 * Run one standalone (`relay.run(signal)`), or hand it to the recovery worker (`relay` option),
 * which runs a pass with each of its own.
 *
 * @example
 * ```ts
 * const channel = await connection.createConfirmChannel();
 * const relay = createRelay({ log, publisher: rabbitmqPublisher({ channel, exchange: "orders" }) });
 * const stop = new AbortController();
 * process.once("SIGTERM", () => stop.abort());
 * await relay.run(stop.signal);
 * ```
 */
export function createRelay(options: RelayOptions): Relay {
  const settings = resolveRelaySettings(options);
  const emit = (event: RelayEvent) => {
    try {
      options.onEvent?.(event);
    } catch {
      // A listener's failure is no part of delivery.
    }
  };
  const relay: Relay = {
    owner: settings.owner,
    async runOnce(signal) {
      const { outbox, owner, leaseMs, batchSize, clock } = settings;
      const claimed = await outbox.claim(owner, leaseMs, clock.now(), batchSize);
      const pass = { ...EMPTY, claimed: claimed.length };
      for (const claim of claimed) {
        if (signal?.aborted) break;
        await deliver(settings, claim, pass, emit, signal);
      }
      return pass;
    },
    async run(signal) {
      const total = { ...EMPTY };
      while (!signal.aborted) {
        let pass: RelayPass = EMPTY;
        try {
          pass = await relay.runOnce(signal);
          for (const key of Object.keys(total) as (keyof RelayPass)[]) total[key] += pass[key];
        } catch {
          // The log failed: try again after the wait, as after an idle pass.
        }
        if (pass.claimed === 0) await sleep(settings.clock, settings.pollIntervalMs, signal);
      }
      return total;
    },
  };
  return Object.freeze(relay);
}

type Tally = { -readonly [K in keyof RelayPass]: number };

/** Delivers one claimed message and counts what happened. */
async function deliver(
  settings: RelaySettings,
  claim: ClaimedMessage,
  pass: Tally,
  emit: (event: RelayEvent) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  const { outbox, publisher, clock, leaseMs, publishTimeoutMs } = settings;
  const { record, token } = claim;
  const id = record.messageId;
  // The claim may have lapsed while earlier messages of the batch were sent: renewing it is the
  // fence that keeps a relay that lost it from publishing.
  if (!(await outbox.renew(id, token, leaseMs, clock.now()))) {
    pass.fenced++;
    emit({ type: "relay.fenced", messageId: id, published: false });
    return;
  }
  const message: OutgoingMessage = Object.freeze({
    id,
    topic: record.topic,
    body: encoder.encode(JSON.stringify(record.message)),
    headers: Object.freeze({
      ...record.headers,
      "lockstep-message-id": id,
      "lockstep-saga-id": record.sagaId,
    }),
    record,
  });
  const outcome = await callWithDeadline(clock, publishTimeoutMs, signal, (scope) =>
    publisher.publish(message, scope.signal),
  );
  if (outcome.status === "ok") {
    const receipt: PublishReceipt | undefined = outcome.value;
    const duplicate = receipt?.duplicate === true;
    emit({ type: "relay.published", messageId: id, duplicate });
    if (await outbox.delivered(id, token, clock.now())) {
      pass.delivered++;
      if (duplicate) pass.duplicates++;
      emit({ type: "relay.delivered", messageId: id });
    } else {
      pass.fenced++;
      emit({ type: "relay.fenced", messageId: id, published: true });
    }
    return;
  }
  // Stopped, not failed: the claim lapses and the message is sent again, no attempt spent.
  if (outcome.status === "aborted") return;
  const error =
    outcome.status === "error"
      ? PublishError.is(outcome.error)
        ? outcome.error
        : new PublishError(publisher.name, message, messageOf(outcome.error), {
            cause: outcome.error,
          })
      : new PublishError(publisher.name, message, `no confirmation within ${publishTimeoutMs} ms`);
  const attempt = record.attempts + 1;
  const dead = attempt >= settings.retry.attempts;
  const nextAt = clock.now() + backoffDelay(settings.retry, attempt, settings.random);
  const marked = await outbox.failed(
    id,
    token,
    { error: error.message, dead, nextAt },
    clock.now(),
  );
  if (!marked) {
    pass.fenced++;
    emit({ type: "relay.fenced", messageId: id, published: false });
    return;
  }
  if (dead) pass.dead++;
  else pass.retried++;
  emit({ type: "relay.failed", messageId: id, error, attempt, dead, nextAt });
}
