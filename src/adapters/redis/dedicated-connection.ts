import type { Redis, RedisOptions } from "ioredis";
import { StoreError } from "../../core/error-kinds.js";
import { messageOf } from "../../core/message-of.js";
import { type ErrorKind, ErrorKind as Kind } from "../../model/error-kind.js";
import { classifyRedisError } from "./classify-redis-error.js";
import { raceSignal } from "./race-signal.js";

/**
 * Options every dedicated connection runs with, whatever the user's client says, so that the fate
 * of each command is knowable: a command is either written to a ready socket now or refused now.
 */
const CLASSIFIABLE: Partial<RedisOptions> = {
  lazyConnect: true,
  // A queued command could be sent after its caller gave up; refusing it instead proves it unsent.
  enableOfflineQueue: false,
  // ioredis would otherwise resend in-flight commands after a reconnect: a write that already
  // landed would run twice, or lose its own guard and be mistaken for a conflict.
  autoResendUnfulfilledCommands: false,
  // A lost connection ends here; the next call opens a fresh one rather than inheriting its state.
  retryStrategy: () => null,
  reconnectOnError: () => false,
  maxRetriesPerRequest: 0,
};

/**
 * One connection of lockstep's own, duplicated from the user's client and never shared with it,
 * opened on first use and again after it is lost. Knows whether a command reached the socket.
 */
export class DedicatedConnection {
  readonly #source: Redis;
  readonly #overrides: Partial<RedisOptions>;
  #current: Redis | undefined;
  #opening: Promise<Redis> | undefined;
  #closed = false;

  constructor(source: Redis, overrides: Partial<RedisOptions>) {
    this.#source = source;
    this.#overrides = overrides;
  }

  /**
   * A ready connection. Rejects with a `transient` {@link StoreError} when Redis cannot be reached
   * (nothing was sent), and with a `not_committed` one when `signal` aborts first.
   */
  async ready(signal: AbortSignal): Promise<Redis> {
    if (this.#closed) throw closedError();
    const current = this.#current;
    if (current !== undefined && current.status === "ready") return current;
    let opening = this.#opening;
    if (opening === undefined) {
      const started = this.#open();
      const settled = () => {
        if (this.#opening === started) this.#opening = undefined;
      };
      started.then(settled, settled);
      this.#opening = started;
      opening = started;
    }
    return raceSignal(
      opening,
      signal,
      () =>
        new StoreError(
          Kind.NotCommitted,
          "The call was aborted while lockstep's Redis connection was opening; nothing was sent.",
          { cause: signal.reason },
        ),
    );
  }

  /**
   * Sends one command (or script, or transaction) and settles with its reply. A command that never
   * left the client is `transient`; a reply error is classified; a command lost in flight, timed
   * out or abandoned at `signal` is `unknown`, because it may have been applied.
   */
  async send<T>(
    signal: AbortSignal,
    what: string,
    command: (redis: Redis) => Promise<T>,
    classify: (error: unknown) => ErrorKind | undefined = classifyRedisError,
  ): Promise<T> {
    if (signal.aborted) throw abortedBeforeSend(what, signal);
    const redis = await this.ready(signal);
    if (signal.aborted) throw abortedBeforeSend(what, signal);
    if (redis.status !== "ready") {
      throw new StoreError(
        Kind.Transient,
        `${what} was not sent: lockstep's Redis connection closed just before it.`,
      );
    }
    let pending: Promise<T>;
    try {
      pending = command(redis);
    } catch (error) {
      throw new StoreError(Kind.NotCommitted, `${what} could not be sent: ${messageOf(error)}.`, {
        cause: error,
      });
    }
    try {
      return await raceSignal(
        pending,
        signal,
        () =>
          new StoreError(
            Kind.Unknown,
            `${what} was sent, but the call was aborted before Redis answered; it may have been applied.`,
            { cause: signal.reason },
          ),
      );
    } catch (error) {
      if (StoreError.is(error)) throw error;
      // Sent on a ready socket: unless Redis answered with a refusal, the command may have landed.
      const kind = classify(error) ?? Kind.Unknown;
      throw new StoreError(kind, `${what} failed: ${messageOf(error)}.`, { cause: error });
    }
  }

  /** Drops the current connection, e.g. after a call left its state uncertain. */
  discard(): void {
    const current = this.#current;
    this.#current = undefined;
    current?.disconnect();
  }

  /** Closes the connection for good; later calls are refused as `not_committed`. */
  close(): void {
    this.#closed = true;
    this.discard();
  }

  async #open(): Promise<Redis> {
    this.discard();
    const redis = this.#source.duplicate({ ...this.#overrides, ...CLASSIFIABLE });
    let lastError: unknown;
    // The listener also keeps ioredis from printing "Unhandled error event": library code never prints.
    redis.on("error", (error: unknown) => {
      lastError = error;
    });
    redis.on("end", () => {
      if (this.#current === redis) this.#current = undefined;
    });
    this.#current = redis;
    try {
      await redis.connect();
      if (this.#closed) {
        redis.disconnect();
        throw closedError();
      }
      return redis;
    } catch (error) {
      if (this.#current === redis) this.#current = undefined;
      redis.disconnect();
      if (StoreError.is(error)) throw error;
      const cause = lastError ?? error;
      throw new StoreError(
        Kind.Transient,
        `lockstep could not connect to Redis (${messageOf(cause)}); nothing was sent.`,
        { cause },
      );
    }
  }
}

function abortedBeforeSend(what: string, signal: AbortSignal): StoreError {
  return new StoreError(Kind.NotCommitted, `${what} was aborted before it was sent.`, {
    cause: signal.reason,
  });
}

function closedError(): StoreError {
  return new StoreError(
    Kind.NotCommitted,
    "The Redis store was closed; nothing was sent. Create a new store to keep writing.",
  );
}

export { messageOf };
