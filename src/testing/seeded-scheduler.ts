import { assertSeed, seededRandom } from "./seeded-random.js";
import type { TaskScheduler } from "./virtual-clock.js";

/**
 * Holds a call until a scheduler lets it run. `withFaults(adapter, plan, { gate })` puts every call
 * of the adapter behind one, so a scheduler decides how concurrent runners and recoverers
 * interleave.
 */
export interface CallGate {
  /** Runs `call` once the scheduler releases it; `label` names it in the scheduler's history. */
  hold<T>(label: string, call: () => Promise<T>): Promise<T>;
}

/**
 * A deterministic scheduler without fast-check: calls held at its gate are released one at a time,
 * in an order drawn from a seeded generator, whenever the program is idle. Driven by
 * {@link VirtualClock.settle}, it interleaves concurrent runs and recoverers differently for each
 * seed and identically for the same seed, and time moves only when every actor waits on a timer.
 *
 * @example
 * ```ts
 * const scheduler = new SeededScheduler(seed);
 * const log = withFaults(new MemorySagaLog(), NO_FAULTS, { gate: scheduler });
 * await clock.settle(Promise.all([run, recovery]), { scheduler });
 * ```
 */
export class SeededScheduler implements TaskScheduler, CallGate {
  readonly #random: () => number;
  readonly #waiting: { readonly label: string; readonly release: () => void }[] = [];
  readonly #history: string[] = [];

  /** @param seed fixes the order in which held calls are released */
  constructor(readonly seed: number) {
    assertSeed("seed", seed);
    this.#random = seededRandom(seed);
  }

  /** Holds `call` until {@link SeededScheduler.releaseOne} picks it. */
  hold<T>(label: string, call: () => Promise<T>): Promise<T> {
    return new Promise<void>((release) => {
      this.#waiting.push({ label, release });
    }).then(call);
  }

  /** How many held calls wait. */
  pending(): number {
    return this.#waiting.length;
  }

  /** Releases one waiting call, drawn by the seeded generator. */
  async releaseOne(): Promise<void> {
    const index = Math.floor(this.#random() * this.#waiting.length);
    const [task] = this.#waiting.splice(index, 1);
    if (task === undefined) return;
    this.#history.push(task.label);
    task.release();
  }

  /** The labels of the calls released so far, in order: the interleaving this seed produced. */
  get history(): readonly string[] {
    return this.#history;
  }
}
