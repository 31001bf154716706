import type { StepDefinition } from "../core/step.js";
import { canonicalJson } from "./canonical-json.js";

/** Which call of a saga's step code made an effect. */
export type EffectPhase = "execute" | "compensate" | "probe";

/** The step call an effect belongs to, as the kit saw it start. */
export interface EffectCall {
  readonly sagaId: string;
  /** The step's name. */
  readonly step: string;
  /** The step's idempotency key. */
  readonly key: string;
  readonly phase: EffectPhase;
  /** The attempt the runner made the call as. */
  readonly attempt: number;
  /**
   * Which call of step code it was, from 1, counted over the whole run: two effects with the same
   * `key` and `phase` but different executions were made by two calls (a retry, a recovery).
   */
  readonly execution: number;
}

/** A traced step call, as it started. */
export interface StartedCall {
  /** Its place among every effect and step call of the run. */
  readonly seq: number;
  readonly call: EffectCall;
}

/** One effect a wrapped store applied: a write that changed something, or a committed transaction. */
export interface Effect {
  /** Its place among every effect and step call of the run, from 1. */
  readonly seq: number;
  /** The site that applied it, e.g. `"orders.handle.put"` or `"funds.transaction"`. */
  readonly site: string;
  /** The step call that made it; `undefined` when no step call could be told (see {@link EffectLedger}). */
  readonly call: EffectCall | undefined;
  /** Whether it landed after its call's deadline, by a `late_landing` or `slow_commit` fault. */
  readonly late: boolean;
  /** When it applied, on the wrapper's clock. */
  readonly at: number;
  /**
   * What was written, as canonical JSON of the call's arguments (signals and scopes left out), or
   * `undefined` when they cannot be printed: two effects with the same `site` and `write` are one
   * write repeated word for word.
   */
  readonly write: string | undefined;
}

/**
 * Every effect the stores wrapped by {@link withFaults} applied in one run, in order, with the step
 * call that made each: what {@link effectsMatchLog} and {@link noDoubleEffect} compare with the log.
 * Every adapter wrapped with one {@link FaultInjector} records into its `effects`.
 *
 * An effect is a write through a handle method that is not among `reads` and that the store's
 * `affected` (when it has one) counts as affecting something, a committed transaction, a batch, or
 * an `apply`. Writes inside a transaction count when it commits.
 *
 * An effect belongs to a step call when it is made through the call's `ctx.handle`, or by a store
 * call given the call's `ctx.signal` (directly, or as a scope's `signal`), and the saga's steps were
 * traced by {@link EffectLedger.trace} (the explorer and the simulator trace every saga). Other
 * effects are recorded without a call and judged by no checker.
 *
 * @example
 * ```ts
 * const injector = new FaultInjector({ seed: 1, rules: [] });
 * const late = injector.effects.all.filter((effect) => effect.late);
 * ```
 */
export class EffectLedger {
  readonly #effects: Effect[] = [];
  readonly #started: StartedCall[] = [];
  #seq = 0;
  readonly #calls = new WeakMap<object, EffectCall>();
  #executions = 0;

  /** Every effect so far, in the order they applied. */
  get all(): readonly Effect[] {
    return this.#effects;
  }

  /** Every traced step call so far, in the order they started, on the same sequence as effects. */
  get calls(): readonly StartedCall[] {
    return this.#started;
  }

  /**
   * The saga with every step's `execute`, `compensate` and `probe` wrapped so that the effects
   * each call makes are attributed to it. Nothing else about the saga changes.
   */
  trace<S extends { readonly steps: readonly StepDefinition[] }>(saga: S): S {
    const steps = saga.steps.map((step) =>
      Object.freeze({
        ...step,
        execute: this.#traced(step.execute, step.name, "execute"),
        probe: step.probe === undefined ? undefined : this.#traced(step.probe, step.name, "probe"),
        compensate:
          step.compensate === undefined
            ? undefined
            : this.#traced(step.compensate, step.name, "compensate"),
      }),
    );
    return Object.freeze({ ...saga, steps: Object.freeze(steps) }) as S;
  }

  /** The step call that `signal` (or a handle) belongs to, if a traced step call owns it. */
  callOf(owner: unknown): EffectCall | undefined {
    return typeof owner === "object" && owner !== null ? this.#calls.get(owner) : undefined;
  }

  /** Records one effect. Called by {@link withFaults}; an adapter wrapper of your own may call it. */
  record(
    site: string,
    call: EffectCall | undefined,
    late: boolean,
    at: number,
    write: string | undefined,
  ): void {
    this.#effects.push({ seq: ++this.#seq, site, call, late, at, write });
  }

  #traced<C extends StepCallContext>(
    fn: (ctx: C) => unknown,
    step: string,
    phase: EffectPhase,
  ): (ctx: C) => unknown {
    return (ctx: C) => {
      const call: EffectCall = Object.freeze({
        sagaId: ctx.sagaId,
        step,
        key: ctx.key,
        phase,
        attempt: ctx.attempt,
        execution: ++this.#executions,
      });
      // Both the call's signal and its handle identify it: store calls carry one or the other.
      // Co-committed steps share one transaction handle and run one after another, so the latest
      // call to claim it is the one writing.
      if (typeof ctx.signal === "object" && ctx.signal !== null) this.#calls.set(ctx.signal, call);
      if (typeof ctx.handle === "object" && ctx.handle !== null) this.#calls.set(ctx.handle, call);
      this.#started.push({ seq: ++this.#seq, call });
      return fn(ctx);
    };
  }
}

/** The parts of a step's context the ledger reads. */
interface StepCallContext {
  readonly sagaId: string;
  readonly key: string;
  readonly attempt: number;
  readonly signal: AbortSignal;
  readonly handle: unknown;
}

/**
 * A write's arguments as canonical JSON, without the signals and scopes that end its call; handles
 * and anything else that cannot be printed make it `undefined`.
 */
export function writeOf(args: readonly unknown[]): string | undefined {
  try {
    return canonicalJson(
      args.filter(
        (arg) =>
          typeof arg !== "function" &&
          !(arg instanceof AbortSignal) &&
          !(typeof arg === "object" && arg !== null && "signal" in arg),
      ),
    );
  } catch {
    return undefined;
  }
}
