import type { Redis } from "ioredis";
import pg from "pg";
import { VirtualClock } from "../../../src/testing/virtual-clock.js";

/**
 * Counts requests to real services (HTTP, Postgres, Redis) that are on the wire. A virtual clock
 * jumps to its next timer whenever the program looks idle; a program waiting on a socket looks
 * idle too, so without this count a step's deadline would "expire" during a 1 ms round trip.
 */
export class IoTracker {
  #inFlight = 0;
  #waiters: (() => void)[] = [];

  /** How many requests are on the wire. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Counts one request until `end` is called (once; later calls do nothing). */
  begin(): () => void {
    this.#inFlight++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#inFlight--;
      for (const wake of this.#waiters.splice(0)) wake();
    };
  }

  /** Counts a request until `promise` settles; returns `promise` itself. */
  watch<T>(promise: Promise<T>): Promise<T> {
    const end = this.begin();
    promise.then(end, end);
    return promise;
  }

  /** Resolves when some request on the wire ends. */
  progress(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** A virtual clock that knows when its next timer falls due, so a driver can jump straight to it. */
/**
 * How many `setImmediate` turns without progress make a world's program idle, so that its virtual
 * clock may jump. More than VirtualClock's default of 3: a SQLite write gate that has been busy for
 * a few milliseconds of real time hands over on the next turn, so on a loaded machine (or under Bun,
 * whose turns are shorter) a burst of transactions can need several turns, and a jump taken in the
 * middle of one fires a deadline or a lease renewal that the same run on an idle machine never sees.
 */
export const IDLE_TURNS = 25;

export class DueClock extends VirtualClock {
  readonly #due = new Set<{ readonly at: number }>();

  override setTimer(callback: () => void, ms: number): () => void {
    const entry = { at: this.now() + Math.max(0, ms) };
    this.#due.add(entry);
    const cancel = super.setTimer(() => {
      this.#due.delete(entry);
      callback();
    }, ms);
    return () => {
      this.#due.delete(entry);
      cancel();
    };
  }

  /** When the next timer falls due, or `undefined` when none is waiting. */
  get nextDue(): number | undefined {
    let next: number | undefined;
    for (const { at } of this.#due) if (next === undefined || at < next) next = at;
    return next;
  }
}

/**
 * Settles `promise` like `VirtualClock.run`, except that time never moves while `io` has a request
 * on the wire: the driver waits (in real time) for it to answer, and jumps to the next timer only
 * when the program is idle with nothing in flight.
 */
export async function runWithIo<T>(
  clock: DueClock,
  io: IoTracker,
  promise: PromiseLike<T>,
  maxJumps = 100_000,
): Promise<T> {
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  Promise.resolve(promise).then(
    (value) => {
      outcome = { ok: true, value };
    },
    (error: unknown) => {
      outcome = { ok: false, error };
    },
  );
  for (let jumps = 0; ; ) {
    for (let i = 0; i < IDLE_TURNS; i++) await new Promise((resolve) => setImmediate(resolve));
    if (outcome?.ok === true) return outcome.value;
    if (outcome?.ok === false) throw outcome.error;
    if (io.inFlight > 0) {
      await io.progress();
      continue;
    }
    const next = clock.nextDue;
    if (next === undefined) {
      throw new Error(
        "runWithIo: the program is idle, with no timer pending and no request on the wire, and the promise has not settled; it would wait forever.",
      );
    }
    if (++jumps > maxJumps) throw new Error(`runWithIo: gave up after ${maxJumps} jumps.`);
    clock.advance(Math.max(0, next - clock.now()));
  }
}

/**
 * A `fetch` whose requests `io` counts until their whole body has arrived (the body is read inside
 * the count and handed back in a fresh `Response`).
 */
export function trackedFetch(
  io: IoTracker,
  inner: (input: URL, init: RequestInit) => Promise<Response>,
): (input: URL, init: RequestInit) => Promise<Response> {
  return (input, init) =>
    io.watch(
      (async () => {
        const response = await inner(input, init);
        const body = await response.arrayBuffer();
        return new Response(body.byteLength === 0 ? null : body, {
          status: response.status,
          statusText: response.statusText,
          headers: response.headers,
        });
      })(),
    );
}

/** A `pg.Client` class whose connects and queries `io` counts, for `new pg.Pool({ Client })`. */
export function trackedPgClient(io: IoTracker): typeof pg.Client {
  return class TrackedClient extends pg.Client {
    // biome-ignore lint/suspicious/noExplicitAny: both of pg's connect overloads pass through.
    override connect(callback?: any): any {
      if (typeof callback !== "function") return io.watch(super.connect());
      const end = io.begin();
      try {
        super.connect((error: Error | null) => {
          end();
          callback(error);
        });
      } catch (error) {
        end();
        throw error;
      }
    }

    // biome-ignore lint/suspicious/noExplicitAny: pg's query has a dozen overloads; all pass through.
    override query(config: any, values?: any, callback?: any): any {
      const done =
        typeof callback === "function" ? callback : typeof values === "function" ? values : null;
      if (done === null) {
        const result = super.query(config, values);
        return result && typeof result.then === "function" ? io.watch(result) : result;
      }
      const end = io.begin();
      const wrapped = (error: unknown, result: unknown) => {
        end();
        done(error, result);
      };
      try {
        return typeof values === "function"
          ? super.query(config, wrapped)
          : super.query(config, values, wrapped);
      } catch (error) {
        end();
        throw error;
      }
    }
  } as unknown as typeof pg.Client;
}

/**
 * Turns off `synchronous_commit` on every connection of `pool`: a commit then returns before its
 * WAL record is flushed to disk. Only a crash of the Postgres server itself could lose such a
 * commit, which no test here simulates (they kill the simulated client process); the scenarios
 * still see every commit, and run several times faster.
 */
export function fastCommits(pool: pg.Pool): void {
  pool.on("connect", (client) => {
    client.query("SET synchronous_commit = off").catch(() => {});
  });
}

/**
 * Makes every connection `redisStore` duplicates from `client` count its connects and commands in
 * `io` (lockstep never sends on the client itself).
 */
export function trackRedisDuplicates(client: Redis, io: IoTracker): void {
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (override) => {
    const redis = duplicate(override);
    const send = redis.sendCommand.bind(redis);
    redis.sendCommand = ((...args: Parameters<typeof send>) => {
      const result = send(...args);
      if (result && typeof (result as Promise<unknown>).then === "function")
        io.watch(result as Promise<unknown>).catch(() => {});
      return result;
    }) as typeof redis.sendCommand;
    const connect = redis.connect.bind(redis);
    redis.connect = ((callback?: () => void) => {
      const result = connect(callback);
      io.watch(result).catch(() => {});
      return result;
    }) as typeof redis.connect;
    return redis;
  };
}

/** What `mysql2`'s callback API exposes of a pool and its connections, as the tracker patches them. */
interface CorePool {
  getConnection(callback: (error: unknown, connection: unknown) => void): void;
  on(event: "connection", listener: (connection: CoreConnection) => void): void;
}
interface CoreConnection {
  addCommand(command: { once(event: "end", listener: () => void): void }): unknown;
  once(event: "end" | "error", listener: () => void): void;
}

/**
 * Makes `io` count the connects and commands of a `mysql2` promise pool: the wait for a pooled
 * connection (a handshake, for a new one), and every command a connection runs until it ends, or
 * until its connection closes or fails (a killed connection's queued commands never end otherwise).
 */
export function trackMysqlPool(pool: import("mysql2/promise").Pool, io: IoTracker): void {
  const core = (pool as unknown as { pool: CorePool }).pool;
  const getConnection = core.getConnection.bind(core);
  core.getConnection = (callback) => {
    const end = io.begin();
    getConnection((error, connection) => {
      end();
      callback(error, connection);
    });
  };
  core.on("connection", (connection) => {
    const pending = new Set<() => void>();
    const endAll = () => {
      for (const end of pending) end();
      pending.clear();
    };
    connection.once("end", endAll);
    connection.once("error", endAll);
    const addCommand = connection.addCommand.bind(connection);
    connection.addCommand = (command) => {
      const end = io.begin();
      pending.add(end);
      command.once("end", () => {
        pending.delete(end);
        end();
      });
      return addCommand(command);
    };
  });
}
