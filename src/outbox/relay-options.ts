import { type Clock, systemClock } from "../core/clock.js";
import { newSagaId } from "../core/ids.js";
import { checkRetryShape, type RetryPolicy, resolveRetry } from "../core/retry.js";
import { assertDuration, assertInteger, assertName, describeValue } from "../core/validate.js";
import type { OutboxLog } from "../log/outbox-log.js";
import type { SagaLog } from "../log/saga-log.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import type { OutboxPublisher } from "./publisher.js";
import type { RelayListener } from "./relay-events.js";

/** Options of {@link createRelay}. */
export interface RelayOptions {
  /** The saga log whose outbox the relay delivers; it must have one (`log.outbox`). */
  readonly log: SagaLog;
  /** Sends each message to the broker, over the user's own connection. */
  readonly publisher: OutboxPublisher;
  /**
   * The relay's name in claim records.
   * @default `relay-<ulid>`
   */
  readonly owner?: string;
  /**
   * How many messages one pass claims at most.
   * @default 50
   */
  readonly batchSize?: number;
  /**
   * How long a claim lasts, in milliseconds. A relay that stops (a crash) leaves its claims to
   * expire; another relay takes them then. Renewed before each publish.
   * @default 30000
   */
  readonly leaseMs?: number;
  /**
   * The deadline of each publish, in milliseconds: a broker that has not confirmed by then is a
   * failed try, retried with backoff.
   * @default 10000
   */
  readonly publishTimeoutMs?: number;
  /**
   * How failed deliveries are retried: `attempts` tries in all, the waits between them growing
   * from `initialDelayMs` to `maxDelayMs`. A message whose tries run out goes `dead` (visible in
   * `lockstep sagas show` and `doctor`) until an operator requeues it.
   * @default { attempts: 10, initialDelayMs: 1000, maxDelayMs: 60000, factor: 2, jitter: 0.2 }
   */
  readonly retry?: Partial<Omit<RetryPolicy, "retryOn">>;
  /**
   * The wait between passes of {@link Relay.run} once a pass delivered nothing, in milliseconds.
   * @default 1000
   */
  readonly pollIntervalMs?: number;
  /** Receives the relay's events. */
  readonly onEvent?: RelayListener;
  /** The clock claims, deadlines and backoff are timed on. @default the system clock */
  readonly clock?: Clock;
  /** Randomness for backoff jitter, in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/** A relay's validated settings. */
export interface RelaySettings {
  readonly outbox: OutboxLog;
  readonly publisher: OutboxPublisher;
  readonly owner: string;
  readonly batchSize: number;
  readonly leaseMs: number;
  readonly publishTimeoutMs: number;
  readonly retry: RetryPolicy;
  readonly pollIntervalMs: number;
  readonly clock: Clock;
  readonly random: () => number;
}

const DEFAULT_RELAY_RETRY = {
  attempts: 10,
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
  factor: 2,
  jitter: 0.2,
};

/** Validates a relay's options, naming the bad value; throws a definition error. */
export function resolveRelaySettings(options: RelayOptions): RelaySettings {
  const outbox = options?.log?.outbox;
  if (outbox === undefined) {
    throw new LockstepDefinitionError(
      `Expected \`log\` to be a saga log with an outbox (the memory, SQLite or Postgres log), got ${describeValue(options?.log)}.`,
    );
  }
  const publisher = options.publisher;
  if (typeof publisher?.publish !== "function" || typeof publisher.name !== "string") {
    throw new LockstepDefinitionError(
      `Expected \`publisher\` to be an outbox publisher ({ name, publish }), got ${describeValue(publisher)}.`,
    );
  }
  const owner = options.owner ?? `relay-${newSagaId()}`;
  assertName("owner", owner);
  const batchSize = options.batchSize ?? 50;
  assertInteger("batchSize", batchSize, 1);
  const leaseMs = options.leaseMs ?? 30_000;
  assertDuration("leaseMs", leaseMs);
  const publishTimeoutMs = options.publishTimeoutMs ?? 10_000;
  assertDuration("publishTimeoutMs", publishTimeoutMs);
  if (publishTimeoutMs >= leaseMs) {
    throw new LockstepDefinitionError(
      `Expected \`publishTimeoutMs\` to be less than \`leaseMs\` (${leaseMs}), so a claim outlives the publish it covers, got ${describeValue(publishTimeoutMs)}.`,
    );
  }
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  assertDuration("pollIntervalMs", pollIntervalMs);
  checkRetryShape("retry", options.retry, Object.keys(DEFAULT_RELAY_RETRY));
  const retry = resolveRetry("retry", { ...DEFAULT_RELAY_RETRY, ...options.retry });
  return {
    outbox,
    publisher,
    owner,
    batchSize,
    leaseMs,
    publishTimeoutMs,
    retry,
    pollIntervalMs,
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
  };
}
