import type { Clock } from "../core/clock.js";
import { assertInteger } from "../core/validate.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { InFlightCalls } from "./in-flight-calls.js";

/** How a promise driven by {@link VirtualClock.settle} came out. */
export type Settled<T> =
  | { readonly status: "fulfilled"; readonly value: T }
  | { readonly status: "rejected"; readonly reason: unknown }
  | {
      /**
       * The promise did not settle: the program went idle with no timer and no held call left
       * (`idle`), it was still pending when the next timer fell after `until` (`time_limit`), or it
       * was still busy after `maxSteps` steps (`max_steps`).
       */
      readonly status: "stuck";
      readonly reason: "idle" | "time_limit" | "max_steps";
    };

/**
 * Holds calls back and releases them one at a time, in an order of its choosing: a
 * {@link SeededScheduler}, or fast-check's scheduler through `fastCheckScheduler(s)`.
 */
export interface TaskScheduler {
  /** How many held calls are waiting to be released. */
  pending(): number;
  /** Releases one waiting call and resolves once it has run. */
  releaseOne(): Promise<void>;
}

/** Options of {@link VirtualClock.settle}. */
export interface SettleOptions {
  /**
   * The most steps (timer jumps plus released calls) before giving up as `stuck`.
   * @default 100000
   */
  readonly maxSteps?: number;
  /**
   * Releases held calls whenever the program is idle, before time moves: time passes only when
   * every actor waits on a timer.
   * @default none
   */
  readonly scheduler?: TaskScheduler;
  /**
   * A limit on (virtual) time, in milliseconds since the epoch: a promise still pending when the
   * next timer falls after it comes back `stuck`. Use it for a program that never goes idle, such as
   * a runner stuck on a hung call while its lease heartbeat keeps ticking.
   * @default no limit
   */
  readonly until?: number;
}

/** Options of the {@link VirtualClock} constructor. */
export interface VirtualClockOptions {
  /**
   * How many `setImmediate` turns make the program idle before time moves. Promise chains settle
   * in one turn; raise it when store code waits on real I/O callbacks.
   * @default 3
   */
  readonly idleTurns?: number;
  /**
   * How long, in real milliseconds, {@link VirtualClock.settle} waits for the calls in flight in
   * {@link VirtualClock.io} to answer before it gives up on them for now and goes on as if the
   * program were idle (counting a stall in `io.stalls`). Only calls counted in `io` are waited for.
   * @default 10000
   */
  readonly ioStallMs?: number;
}

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
}

/**
 * A clock whose time moves only when told to, so leases, deadlines and backoff run without real
 * waiting. {@link VirtualClock.run} advances it automatically whenever the program is idle, jumping
 * straight to the next timer.
 *
 * A call to a real store (Postgres, Redis, HTTP) makes the program look idle while it waits for the
 * network, so time would jump past the call's deadline while the database answers. Count such calls
 * in {@link VirtualClock.io} (`withFaults(store, plan, { inFlight: clock.io })`, or the kit's
 * `realIo` option): time then stands still, and held calls stay held, until every counted call
 * answered.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const runner = createRunner({ clock });
 * const result = await clock.run(runner.run(saga, input));
 * ```
 */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Timer[] = [];
  readonly #idleTurns: number;
  readonly #ioStallMs: number;
  /**
   * The calls to real stores in flight. While any is pending, {@link VirtualClock.settle} waits
   * for it (up to `ioStallMs` of real time) instead of moving time or releasing a held call.
   */
  readonly io = new InFlightCalls();

  /**
   * @param start the initial time, in milliseconds since the epoch. @default 1_700_000_000_000
   * @param options see {@link VirtualClockOptions}
   */
  constructor(start = 1_700_000_000_000, options: VirtualClockOptions = {}) {
    assertInteger("start", start, 0);
    const idleTurns = options.idleTurns ?? 3;
    assertInteger("idleTurns", idleTurns, 1);
    const ioStallMs = options.ioStallMs ?? 10_000;
    assertInteger("ioStallMs", ioStallMs, 1);
    this.#now = start;
    this.#idleTurns = idleTurns;
    this.#ioStallMs = ioStallMs;
  }

  /** The virtual time, in milliseconds since the epoch. */
  now(): number {
    return this.#now;
  }

  /** Calls `callback` once the clock reaches now + `ms`; returns a function that cancels it. */
  setTimer(callback: () => void, ms: number): () => void {
    const timer: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, callback };
    this.#timers.push(timer);
    this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  /** How many timers are waiting. */
  get pending(): number {
    return this.#timers.length;
  }

  /** When the next timer falls due, or `undefined` when none is waiting. */
  get nextTimerAt(): number | undefined {
    return this.#timers[0]?.at;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    assertInteger("ms", ms, 0);
    const until = this.#now + ms;
    for (;;) {
      const next = this.#timers[0];
      if (next === undefined || next.at > until) break;
      this.#timers.shift();
      this.#now = next.at;
      next.callback();
    }
    this.#now = until;
  }

  /**
   * Settles `promise`, advancing time to the next timer whenever the program goes idle. Throws when
   * the program is idle with no timer left and the promise still pending (a deadlock), or after
   * `maxJumps` jumps.
   */
  async run<T>(promise: PromiseLike<T>, maxJumps = 100_000): Promise<T> {
    const settled = await this.settle(promise, { maxSteps: maxJumps });
    if (settled.status === "fulfilled") return settled.value;
    if (settled.status === "rejected") throw settled.reason;
    throw new LockstepDefinitionError(
      settled.reason === "idle"
        ? "VirtualClock.run: the program is idle, no timer is pending, and the promise has not settled; it would wait forever."
        : `VirtualClock.run: gave up after ${maxJumps} jumps of the clock.`,
    );
  }

  /**
   * Drives `promise` to its end without real waiting, and says how it ended instead of throwing:
   * whenever the program is idle it waits for the calls in flight in {@link VirtualClock.io}, then
   * releases one held call of `options.scheduler` if there is one, else jumps to the next timer. A promise that can never settle (a call that hangs with no
   * deadline) comes back `stuck`, so a test can treat its process as abandoned.
   *
   * @example
   * ```ts
   * const outcome = await clock.settle(runner.run(saga, input));
   * if (outcome.status === "stuck") crash.kill("stuck"); // abandon the hung process
   * ```
   */
  async settle<T>(promise: PromiseLike<T>, options: SettleOptions = {}): Promise<Settled<T>> {
    const maxSteps = options.maxSteps ?? 100_000;
    assertInteger("maxSteps", maxSteps, 1);
    let outcome: Settled<T> | undefined;
    Promise.resolve(promise).then(
      (value) => {
        outcome = { status: "fulfilled", value };
      },
      (reason: unknown) => {
        outcome = { status: "rejected", reason };
      },
    );
    for (let steps = 0; ; steps++) {
      await idle(this.#idleTurns);
      // Real I/O in flight is not idleness: wait for its answer, moving nothing meanwhile.
      while (outcome === undefined && this.io.count > 0) {
        if (!(await this.io.drained(this.#ioStallMs))) break;
        await idle(this.#idleTurns);
      }
      if (outcome !== undefined) return outcome;
      if (steps >= maxSteps) return { status: "stuck", reason: "max_steps" };
      if (options.scheduler !== undefined && options.scheduler.pending() > 0) {
        await options.scheduler.releaseOne();
        continue;
      }
      const next = this.#timers[0];
      if (next === undefined) return { status: "stuck", reason: "idle" };
      if (options.until !== undefined && next.at > options.until) {
        return { status: "stuck", reason: "time_limit" };
      }
      this.advance(next.at - this.#now);
    }
  }

  /**
   * Resolves once no call counted in {@link VirtualClock.io} is in flight: `true`, or `false` when
   * some were still pending after `ioStallMs` of real time. The kit calls it between the phases of
   * a schedule, so that a write a dead process sent lands before the next process looks.
   */
  async drainIo(): Promise<boolean> {
    return this.io.drained(this.#ioStallMs);
  }
}

/** Waits until pending promise callbacks and already-queued I/O callbacks have run. */
async function idle(turns: number): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}
