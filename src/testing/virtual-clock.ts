import type { Clock } from "../core/clock.js";
import { LockstepDefinitionError } from "../core/errors.js";
import { assertInteger } from "../core/validate.js";

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

  /** @param start the initial time, in milliseconds since the epoch. @default 1_700_000_000_000 */
  constructor(start = 1_700_000_000_000) {
    assertInteger("start", start, 0);
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

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
    let settled = false;
    const tracked = Promise.resolve(promise).finally(() => {
      settled = true;
    });
    tracked.catch(() => {});
    for (let jumps = 0; ; jumps++) {
      await idle();
      if (settled) return tracked;
      const next = this.#timers[0];
      if (next === undefined) {
        throw new LockstepDefinitionError(
          "VirtualClock.run: the program is idle, no timer is pending, and the promise has not settled; it would wait forever.",
        );
      }
      if (jumps >= maxJumps) {
        throw new LockstepDefinitionError(
          `VirtualClock.run: gave up after ${maxJumps} jumps of the clock.`,
        );
      }
      this.advance(next.at - this.#now);
    }
  }
}

/** Waits until pending promise callbacks and already-queued I/O callbacks have run. */
async function idle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}
