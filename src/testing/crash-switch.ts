import type { SagaLog } from "../log/saga-log.js";

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
    return (
      typeof value === "object" &&
      value !== null &&
      (value as Record<symbol, unknown>)[CRASH_BRAND] === true
    );
  }
}

/**
 * Simulates a process crash in-process: every durable boundary (a log write, a store effect) calls
 * {@link CrashSwitch.boundary}; at the chosen one the switch trips, and from then on every boundary
 * throws {@link SimulatedCrash}, so the "dead" process can make no further durable change. Its
 * in-memory state is then abandoned, as a killed process's would be.
 */
export class CrashSwitch {
  #count = 0;
  #crashAt: number | undefined;
  #dead = false;
  readonly #seen: string[] = [];

  /** @param crashAt the 1-based boundary to crash at; omitted, the switch only counts. */
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

  /** Passes a boundary; throws if the process is dead or dies here. */
  boundary(name: string): void {
    if (this.#dead) throw new SimulatedCrash(name);
    this.#count++;
    this.#seen.push(name);
    if (this.#crashAt === this.#count) {
      this.#dead = true;
      throw new SimulatedCrash(name);
    }
  }

  /** Wraps a saga log so each durable method is a boundary before and after its effect. */
  wrapLog(log: SagaLog): SagaLog {
    const durable = new Set([
      "create",
      "write",
      "acquireLease",
      "renewLease",
      "releaseLease",
      "quarantine",
      "prune",
      "claimRecoverable",
    ]);
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
