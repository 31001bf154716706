import type { SagaLog } from "../log/saga-log.js";
import { hasBrand } from "../model/brand.js";

/** The saga log methods that change durable state; the others only read. */
export const LOG_WRITES: ReadonlySet<string> = new Set([
  "create",
  "write",
  "acquireLease",
  "renewLease",
  "releaseLease",
  "quarantine",
  "prune",
  "claimRecoverable",
]);

const CRASH_BRAND = Symbol.for("lockstep.simulated-crash");

/** The error every call fails with once a simulated process has crashed. */
export class SimulatedCrash extends Error {
  readonly [CRASH_BRAND] = true;
  constructor(readonly boundary: string) {
    super(`Simulated crash at ${boundary}.`);
    this.name = "SimulatedCrash";
  }
  /** Recognizes a simulated crash from any copy of lockstep. */
  static is(value: unknown): value is SimulatedCrash {
    return hasBrand(value, CRASH_BRAND);
  }
}

/**
 * Simulates a process crash in-process: every durable boundary (a log write, a store effect) calls
 * {@link CrashSwitch.boundary}; at the chosen one the switch trips, and from then on every boundary
 * throws {@link SimulatedCrash}, so the "dead" process can make no further durable change. Its
 * in-memory state is then abandoned, as a killed process's would be.
 *
 * One switch stands for one simulated process: give the same switch to every adapter that process
 * uses (`withFaults(store, plan, { crash })`), and a fresh one to the process that recovers.
 *
 * @example
 * ```ts
 * const crash = new CrashSwitch(5); // die at the fifth boundary
 * const runner = createRunner({ clock, log: crash.wrapLog(log) });
 * await clock.run(runner.run(saga, input));
 * crash.dead; // true if the run got that far
 * ```
 */
export class CrashSwitch {
  #count = 0;
  #crashAt: number | undefined;
  #dead = false;
  #crashedAt: string | undefined;
  readonly #seen: string[] = [];
  readonly #death = new AbortController();

  /**
   * @param crashAt the 1-based boundary to crash at. @default undefined: the switch only counts,
   * and dies only by {@link CrashSwitch.trip} or {@link CrashSwitch.kill}
   */
  constructor(crashAt?: number) {
    this.#crashAt = crashAt;
  }

  /** Whether the simulated process has crashed. */
  get dead(): boolean {
    return this.#dead;
  }

  /** How many boundaries were passed (including the one that crashed). */
  get count(): number {
    return this.#count;
  }

  /** The names of the boundaries passed, in order. */
  get boundaries(): readonly string[] {
    return this.#seen;
  }

  /**
   * Aborts when the process dies, with the {@link SimulatedCrash} as its reason: whatever the process
   * left open (a transaction, a hung request) ends with it, as a killed process's connections do.
   */
  get signal(): AbortSignal {
    return this.#death.signal;
  }

  /** The boundary or call the process died at, once it has. */
  get crashedAt(): string | undefined {
    return this.#crashedAt;
  }

  /** Passes a boundary; throws if the process is dead or dies here. */
  boundary(name: string): void {
    if (this.#dead) throw new SimulatedCrash(name);
    this.#count++;
    this.#seen.push(name);
    if (this.#crashAt === this.#count) {
      this.kill(name);
      throw new SimulatedCrash(name);
    }
  }

  /**
   * Throws {@link SimulatedCrash} if the process is dead, without counting a boundary: for calls
   * that change nothing durable (reads), which a dead process cannot make either.
   */
  assertAlive(name: string): void {
    if (this.#dead) throw new SimulatedCrash(name);
  }

  /**
   * Kills the process now, without throwing: for a process abandoned from outside, such as one
   * stuck forever on a call that never settles. A no-op on a dead process.
   */
  kill(name: string): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#crashedAt = name;
    this.#death.abort(new SimulatedCrash(name));
  }

  /** Kills the process at `name` and throws {@link SimulatedCrash}: a crash fault. */
  trip(name: string): never {
    this.kill(name);
    throw new SimulatedCrash(name);
  }

  /** Wraps a saga log so each durable method is a boundary before and after its effect. */
  wrapLog(log: SagaLog): SagaLog {
    const durable = LOG_WRITES;
    return new Proxy(log, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== "function" || typeof property !== "string") return value;
        if (!durable.has(property)) {
          return (...args: unknown[]) => {
            if (this.#dead) throw new SimulatedCrash(`log.${property}`);
            return value.apply(target, args);
          };
        }
        return async (...args: unknown[]) => {
          this.boundary(`before log.${property}`);
          const result = await value.apply(target, args);
          this.boundary(`after log.${property}`);
          return result;
        };
      },
    });
  }
}
