import { type Clock, sleep } from "../core/clock.js";
import type { CrashSwitch } from "./crash-switch.js";
import type { EffectLedger } from "./effect-ledger.js";
import { type Fault, type FaultInjector, LATE_KINDS } from "./fault-injector.js";
import type { InFlightCalls } from "./in-flight-calls.js";
import type { CallGate } from "./seeded-scheduler.js";

/** What every wrapped call of one adapter shares. */
export interface Wiring {
  readonly injector: FaultInjector;
  readonly effects: EffectLedger;
  readonly crash: CrashSwitch;
  readonly clock: Clock;
  readonly landingClock: Clock;
  readonly gate: CallGate | undefined;
  readonly inFlight: InFlightCalls | undefined;
}

export type Method = (...args: unknown[]) => unknown;

/** One call through a wrapped adapter, as {@link intercept} needs it. */
export interface Call {
  readonly site: string;
  /** Whether the call changes durable state: a crash boundary before and after it. */
  readonly effect: boolean;
  /** The caller's signal: a `hang` ends when it aborts, a late effect is due then. */
  readonly signal: AbortSignal | undefined;
  readonly fail: (fault: Fault) => Error;
  /** Makes the call. */
  readonly call: () => unknown;
  /** Whether the call counts itself as in flight. */
  readonly counted?: boolean;
  /** Records the call's effect once its result is in. */
  readonly record?: ((result: unknown, late: boolean) => void) | undefined;
  /**
   * Inflicts a late effect; `run` makes a call counted in flight like any other. Without it (a
   * saga log, whose calls have no deadline), a late fault makes the call slow: it applies after
   * `landingMs` and answers then.
   */
  readonly late?:
    | ((fault: Fault, run: (call: () => unknown) => Promise<unknown>) => Promise<unknown>)
    | undefined;
}

/**
 * One call through a wrapped adapter: gate, crash boundaries, and the fault the injector decides.
 * The call counts as in flight while it runs, unless it is `counted` by its own code.
 */
export function intercept(w: Wiring, at: Call): Promise<unknown> {
  const { site, effect, signal, fail } = at;
  const tracked = (call: () => unknown) =>
    Promise.resolve(w.inFlight === undefined || at.counted ? call() : w.inFlight.track(call, site));
  const run = async (): Promise<unknown> => {
    if (effect) w.crash.boundary(`before ${site}`);
    else w.crash.assertAlive(site);
    const fault = w.injector.decide(site);
    if (fault?.kind === "crash") w.crash.trip(site);
    if (fault?.kind === "fail_before") throw fail(fault);
    if (fault?.kind === "hang") {
      const linked = either(signal, w.crash.signal);
      return hang(linked.signal, () => fail(fault)).finally(linked.dispose);
    }
    if (fault !== undefined && LATE_KINDS.includes(fault.kind)) {
      if (at.late !== undefined) {
        return at.late(fault, async (call) => {
          const result = await tracked(call);
          at.record?.(result, true);
          return result;
        });
      }
      await sleep(w.clock, fault.landingMs);
    }
    const result = await tracked(at.call);
    at.record?.(result, false);
    if (fault?.kind === "latency") await sleep(w.clock, fault.latencyMs);
    if (effect) w.crash.boundary(`after ${site}`);
    else w.crash.assertAlive(site);
    if (fault?.kind === "fail_after") throw fail(fault);
    return result;
  };
  return w.gate === undefined ? run() : w.gate.hold(site, run);
}

/**
 * A signal that aborts when either does, and a `dispose` that stops listening: a long-lived
 * process signal must not collect a listener per call.
 */
export function either(
  a: AbortSignal | undefined,
  b: AbortSignal,
): { readonly signal: AbortSignal; readonly dispose: () => void } {
  const none = () => {};
  if (a === undefined || a === b || b.aborted) return { signal: b, dispose: none };
  if (a.aborted) return { signal: a, dispose: none };
  const controller = new AbortController();
  const dispose = () => {
    a.removeEventListener("abort", fromA);
    b.removeEventListener("abort", fromB);
  };
  const fromA = () => {
    dispose();
    controller.abort(a.reason);
  };
  const fromB = () => {
    dispose();
    controller.abort(b.reason);
  };
  a.addEventListener("abort", fromA, { once: true });
  b.addEventListener("abort", fromB, { once: true });
  return { signal: controller.signal, dispose };
}

/** `scope` with its signal replaced, keeping the deadline and anything else the adapter reads. */
export function withSignal<T extends { signal?: AbortSignal } | undefined>(
  scope: T,
  signal: AbortSignal,
): { signal: AbortSignal } {
  return { ...(scope ?? {}), signal };
}

/** Never settles; with a signal, rejects once it aborts, the call never having reached the store. */
function hang(signal: AbortSignal | undefined, error: () => Error): Promise<never> {
  return new Promise<never>((_resolve, reject) => {
    if (signal === undefined) return;
    if (signal.aborted) reject(error());
    else signal.addEventListener("abort", () => reject(error()), { once: true });
  });
}

/** The abort signal among a call's arguments: one passed directly or as a scope's `signal`. */
export function signalIn(args: readonly unknown[]): AbortSignal | undefined {
  for (const arg of args) {
    if (arg instanceof AbortSignal) return arg;
    const signal = (arg as { signal?: unknown } | null | undefined)?.signal;
    if (typeof arg === "object" && signal instanceof AbortSignal) return signal;
  }
  return undefined;
}
