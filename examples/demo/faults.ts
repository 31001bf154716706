/** A small seeded generator (mulberry32): the same seed always gives the same run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** What a fault does to one port call. */
export type FaultKind = "fail-before" | "fail-after" | "crash";

/** Thrown when a simulated process dies; every later call of that process fails with it too. */
export class ProcessDied extends Error {
  constructor(where: string) {
    super(`the process died at ${where}`);
    this.name = "ProcessDied";
  }
}

/** The fault plan: which calls fail, how, and a tally of what was injected. */
export class FaultPlan {
  readonly injected: Record<FaultKind, number> = { "fail-before": 0, "fail-after": 0, crash: 0 };
  readonly #random: () => number;
  readonly #rate: number;

  constructor(random: () => number, rate: number) {
    this.#random = random;
    this.#rate = rate;
  }

  /** Draws the fault (if any) for one call. */
  draw(): FaultKind | undefined {
    if (this.#random() >= this.#rate) return undefined;
    const r = this.#random();
    const kind: FaultKind = r < 0.4 ? "fail-before" : r < 0.8 ? "fail-after" : "crash";
    this.injected[kind]++;
    return kind;
  }
}

/**
 * One simulated process: wraps ports so each call may fail before its effect, fail after it (the
 * write lands, the caller sees an error), or kill the process — after which every call it makes,
 * including its saga-log writes, fails, exactly as if it had been killed.
 */
export class SimulatedProcess {
  dead = false;
  constructor(private readonly plan: FaultPlan) {}

  /** Wraps an object whose methods are I/O (a port, a saga log). */
  wrap<T extends object>(target: T, name: string, faulty: boolean): T {
    return new Proxy(target, {
      get: (t, property, receiver) => {
        const value = Reflect.get(t, property, receiver);
        if (typeof value !== "function" || typeof property !== "string") return value;
        return async (...args: unknown[]) => {
          const where = `${name}.${property}`;
          if (this.dead) throw new ProcessDied(where);
          const fault = faulty ? this.plan.draw() : undefined;
          if (fault === "fail-before")
            throw Object.assign(new Error(`${where} failed before writing (injected)`), {
              code: "EINJECTED",
            });
          if (fault === "crash") {
            this.dead = true;
            throw new ProcessDied(where);
          }
          const result = await value.apply(t, args);
          if (fault === "fail-after")
            throw new Error(`${where} wrote, then its response was lost (injected)`);
          return result;
        };
      },
    });
  }
}
