import { assertFunction } from "../core/validate.js";

/**
 * Counts the calls to real stores that are in flight: sent and not yet answered. A
 * {@link VirtualClock} keeps one (`clock.io`) and never moves time, nor releases a held call, while
 * any is pending; `withFaults(adapter, plan, { inFlight: clock.io })` counts every call that reaches
 * the adapter. So a call to Postgres or Redis takes no virtual time, whatever it takes in real time,
 * and a deadline can fire only while nothing real is pending — the outcome of a run no longer
 * depends on how fast the database answered.
 *
 * A call that never reaches the adapter (an injected `hang` or `fail_before`) is not counted, nor is
 * an injected `latency` wait, which is virtual; a transaction counts while it begins and while it
 * commits or rolls back, not while its work waits for the calls it makes.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const pool = new Pool({ connectionString: process.env.DATABASE_URL });
 * const stock = withFaults(postgresStore(pool), NO_FAULTS, { clock, inFlight: clock.io });
 * await clock.run(runner.run(saga, input)); // time stands still while Postgres answers
 * ```
 */
export class InFlightCalls {
  #count = 0;
  #stalls = 0;
  #started = 0;
  /** `#started` when the last stall was counted: calls pending since then are not waited for again. */
  #stalledAt = -1;
  #waiters: (() => void)[] = [];
  readonly #pending = new Map<number, string>();

  /** How many calls are in flight now. */
  get count(): number {
    return this.#count;
  }

  /** What the calls in flight are, by the labels they were counted with, oldest first. */
  get pending(): readonly string[] {
    return [...this.#pending.values()];
  }

  /**
   * How many times a {@link VirtualClock} stopped waiting for calls in flight because none answered
   * within its `ioStallMs`, and went on as if the program were idle. A run with stalls may depend
   * on timing: a call blocked on a lock that another simulated process holds while it waits for
   * the scheduler, say.
   */
  get stalls(): number {
    return this.#stalls;
  }

  /**
   * Counts `call` as in flight from now until the promise it returns settles, and returns that
   * promise's outcome. `label` names it in {@link InFlightCalls.pending}.
   */
  async track<T>(call: () => T | PromiseLike<T>, label = "call"): Promise<Awaited<T>> {
    assertFunction("call", call);
    const end = this.begin(label);
    try {
      return await call();
    } finally {
      end();
    }
  }

  /**
   * Counts one call as in flight until the returned function is called; calling it again does
   * nothing. For calls whose pending time is not one promise, such as a transaction, which counts
   * while it begins and commits but not while its work runs. `label` names it in
   * {@link InFlightCalls.pending}.
   */
  begin(label = "call"): () => void {
    this.#count++;
    const id = ++this.#started;
    this.#pending.set(id, label);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#count--;
      this.#pending.delete(id);
      if (this.#count === 0) {
        for (const wake of this.#waiters.splice(0)) wake();
      }
    };
  }

  /**
   * Resolves `true` once no call is in flight (at once when none is), or `false` after `stallMs`
   * milliseconds of real time with calls still pending, counting a stall. Once a stall was
   * counted, it resolves `false` at once until another call begins: the calls that stalled are not
   * waited for again.
   */
  drained(stallMs: number): Promise<boolean> {
    if (this.#count === 0) return Promise.resolve(true);
    if (this.#stalledAt === this.#started) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        this.#stalls++;
        this.#stalledAt = this.#started;
        resolve(false);
      }, stallMs);
      this.#waiters.push(wake);
    });
  }
}
