import type { Redis, RedisOptions } from "ioredis";
import { StoreError } from "../../core/error-kinds.js";
import { ErrorKind } from "../../model/error-kind.js";
import { DedicatedConnection } from "./dedicated-connection.js";

/**
 * Up to `size` dedicated connections for `WATCH`. Each is lent to one caller at a time, so a watch
 * set by one request can never abort (or fail to abort) another request's `EXEC`.
 */
export class WatchPool {
  readonly #source: Redis;
  readonly #overrides: Partial<RedisOptions>;
  readonly #size: number;
  readonly #all: DedicatedConnection[] = [];
  readonly #idle: DedicatedConnection[] = [];
  readonly #waiting: {
    readonly take: (connection: DedicatedConnection) => void;
    readonly refuse: (error: StoreError) => void;
  }[] = [];
  #closed = false;

  constructor(source: Redis, overrides: Partial<RedisOptions>, size: number) {
    this.#source = source;
    this.#overrides = overrides;
    this.#size = size;
  }

  /** Borrows a connection; rejects as `not_committed` when `signal` aborts first. */
  acquire(signal: AbortSignal): Promise<DedicatedConnection> {
    if (this.#closed) return Promise.reject(closedError());
    const idle = this.#idle.pop();
    if (idle !== undefined) return Promise.resolve(idle);
    if (this.#all.length < this.#size) {
      const created = new DedicatedConnection(this.#source, this.#overrides);
      this.#all.push(created);
      return Promise.resolve(created);
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        take: (connection: DedicatedConnection) => {
          signal.removeEventListener("abort", onAbort);
          resolve(connection);
        },
        refuse: (error: StoreError) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      const onAbort = () => {
        const at = this.#waiting.indexOf(waiter);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(
          new StoreError(
            ErrorKind.NotCommitted,
            "The call was aborted while waiting for a free Redis WATCH connection; nothing was sent.",
            { cause: signal.reason },
          ),
        );
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /**
   * Returns a borrowed connection. One whose state is uncertain (a call failed or was abandoned
   * with a watch possibly set) is dropped first, so its next borrower starts on a fresh connection.
   */
  release(connection: DedicatedConnection, clean: boolean): void {
    if (!clean) connection.discard();
    if (this.#closed) {
      connection.close();
      return;
    }
    const next = this.#waiting.shift();
    if (next !== undefined) next.take(connection);
    else this.#idle.push(connection);
  }

  /** Closes every connection; waiting and later borrowers are refused. */
  close(): void {
    this.#closed = true;
    for (const connection of this.#all) connection.close();
    for (const waiter of this.#waiting.splice(0)) waiter.refuse(closedError());
  }
}

function closedError(): StoreError {
  return new StoreError(
    ErrorKind.NotCommitted,
    "The Redis store was closed; nothing was sent. Create a new store to keep writing.",
  );
}
