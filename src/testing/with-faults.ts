import type { StoreCapabilities } from "../core/capabilities.js";
import { type Clock, sleep, systemClock } from "../core/clock.js";
import { StoreError } from "../core/error-kinds.js";
import { describeValue } from "../core/validate.js";
import { type SagaLog, SagaLogError } from "../log/saga-log.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { proxyAdapter, unwrapProxy } from "./adapter-proxy.js";
import { CrashSwitch, LOG_WRITES } from "./crash-switch.js";
import { type Fault, FaultInjector } from "./fault-injector.js";
import type { FaultPlan } from "./fault-plan.js";
import { InFlightCalls } from "./in-flight-calls.js";
import type { CallGate } from "./seeded-scheduler.js";

/** What {@link withFaults} accepts as a store: anything made by `defineStore`. */
export interface FaultableStore {
  readonly id: string;
  readonly capabilities: StoreCapabilities;
  readonly handle: unknown;
}

/** Options of {@link withFaults}. */
export interface WithFaultsOptions {
  /**
   * The clock added latency waits on; a `VirtualClock` makes it free.
   * @default the system clock
   */
  readonly clock?: Clock;
  /**
   * The simulated process the adapter belongs to. Every call that changes durable state is a
   * boundary of this switch (before and after its effect); every other call throws once the process
   * is dead. A `crash` fault trips it.
   * @default a switch of this adapter's own, which only counts
   */
  readonly crash?: CrashSwitch;
  /**
   * The adapter's name in site names.
   * @default the store's `id`, or `"log"` for a saga log
   */
  readonly name?: string;
  /**
   * Methods of the store's handle that change nothing (reads): faults still hit them, but they are
   * not crash boundaries, so crash exploration does not spend runs on them.
   * @default [] — every handle method counts as a write
   * @example ["get", "list"]
   */
  readonly reads?: readonly string[];
  /**
   * Holds every call until a scheduler releases it, so that the scheduler decides how concurrent
   * runners and recoverers interleave.
   * @default none
   */
  readonly gate?: CallGate;
  /**
   * Counts every call that reaches the adapter as in flight until it answers: pass `clock.io` of a
   * {@link VirtualClock} when the adapter does real I/O, so that virtual time stands still while it
   * answers (see {@link InFlightCalls}). A transaction counts while it begins and ends, not while
   * its work runs.
   * @default not counted
   * @example withFaults(postgresStore(pool), plan, { clock, inFlight: clock.io })
   */
  readonly inFlight?: InFlightCalls;
}

/** Transaction handles handed out by a wrapped store: `apply` through one is not a boundary. */
const TX_HANDLES = new WeakSet<object>();

interface Wiring {
  readonly injector: FaultInjector;
  readonly crash: CrashSwitch;
  readonly clock: Clock;
  readonly gate: CallGate | undefined;
  readonly inFlight: InFlightCalls | undefined;
}

type Method = (...args: unknown[]) => unknown;

/**
 * Wraps a store (from `defineStore`) or a saga log so that faults from `plan` hit its calls. The
 * wrapper is generated with a `Proxy` over the adapter's own methods: for a store, every method of
 * its root handle (site `<id>.handle.<method>`), of each transaction's handle (`<id>.tx.<method>`),
 * and `transaction`, `batch` and `apply`; for a log, every method of the port (`log.<method>`),
 * `coCommit.create` and `coCommit.write`. Everything else reads through unchanged.
 *
 * Wrapped methods return promises, as lockstep's adapter contract requires. Failing store calls
 * throw `StoreError` of the fault's `errorKind`; failing log calls throw `SagaLogError("io")`.
 * Either message names the site and the plan's seed.
 *
 * Pass the same {@link FaultInjector} to every adapter of a run (and to every simulated process in
 * it) so that one seed replays the whole run, and the same {@link CrashSwitch} to every adapter of
 * one simulated process.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const orders = withFaults(createMemoryStore({ tier: "plain" }), {
 *   seed: 1,
 *   rules: [{ site: "memory:plain.handle.put", kind: "fail_after", times: 1 }],
 * }, { clock });
 * ```
 */
export function withFaults<S extends FaultableStore>(
  store: S,
  plan: FaultPlan | FaultInjector,
  options?: WithFaultsOptions,
): S;
export function withFaults<L extends SagaLog>(
  log: L,
  plan: FaultPlan | FaultInjector,
  options?: WithFaultsOptions,
): L;
export function withFaults(
  adapter: FaultableStore | SagaLog,
  plan: FaultPlan | FaultInjector,
  options: WithFaultsOptions = {},
): FaultableStore | SagaLog {
  const wiring: Wiring = {
    injector: plan instanceof FaultInjector ? plan : new FaultInjector(plan),
    crash: options.crash ?? new CrashSwitch(),
    clock: options.clock ?? systemClock,
    gate: options.gate,
    inFlight: options.inFlight,
  };
  if (options.inFlight !== undefined && !(options.inFlight instanceof InFlightCalls)) {
    throw new LockstepDefinitionError(
      `Expected \`inFlight\` to be the \`io\` of a VirtualClock (an InFlightCalls), got ${describeValue(options.inFlight)}.`,
    );
  }
  if (options.name !== undefined && (typeof options.name !== "string" || options.name === "")) {
    throw new LockstepDefinitionError(
      `Expected \`name\` to be a non-empty string, got ${describeValue(options.name)}.`,
    );
  }
  const reads = options.reads ?? [];
  if (!Array.isArray(reads) || reads.some((r) => typeof r !== "string")) {
    throw new LockstepDefinitionError(
      `Expected \`reads\` to be a list of method names, got ${describeValue(reads)}.`,
    );
  }
  if (isStore(adapter)) return wrapStore(adapter, wiring, options.name ?? adapter.id, reads);
  if (isLog(adapter)) return wrapLog(adapter, wiring, options.name ?? "log");
  throw new LockstepDefinitionError(
    `Expected withFaults to wrap a store made by defineStore or a saga log, got ${describeValue(adapter)}.`,
  );
}

function isStore(value: unknown): value is FaultableStore {
  if (typeof value !== "object" || value === null) return false;
  const store = value as Partial<FaultableStore>;
  return (
    typeof store.id === "string" &&
    typeof store.capabilities === "object" &&
    store.capabilities !== null &&
    "handle" in store
  );
}

function isLog(value: unknown): value is SagaLog {
  if (typeof value !== "object" || value === null) return false;
  const log = value as Partial<Record<keyof SagaLog, unknown>>;
  return ["create", "write", "load", "claimRecoverable", "acquireLease"].every(
    (m) => typeof log[m as keyof SagaLog] === "function",
  );
}

function wrapStore(
  store: FaultableStore,
  w: Wiring,
  name: string,
  reads: readonly string[],
): FaultableStore {
  const fail = (fault: Fault) => new StoreError(fault.errorKind, fault.message);
  const root = wrapHandle(store.handle, w, `${name}.handle`, reads, false, undefined, fail);
  return proxyAdapter(store, (key, value) => {
    if (key === "handle") return value === store.handle ? root : undefined;
    if (typeof value !== "function") return undefined;
    const method = value as Method;
    if (key === "handleFor") {
      // A step call's own handle is the root handle for the plan: the same sites, the same faults.
      return (...args: unknown[]) =>
        wrapHandle(method.apply(store, args), w, `${name}.handle`, reads, false, undefined, fail);
    }
    if (key === "transaction") {
      return (work: (tx: unknown) => Promise<unknown>, scope?: { signal?: AbortSignal }) => {
        // The transaction dies with the process, rolling back and freeing its connection.
        const linked = either(scope?.signal, w.crash.signal);
        const bound = withSignal(scope, linked.signal);
        return intercept(
          w,
          `${name}.transaction`,
          true,
          bound.signal,
          fail,
          async () => {
            // In flight while it begins and while it commits or rolls back, not while its work runs.
            let end = w.inFlight?.begin(`${name}.transaction`);
            // The store may give up on its work (an abort) and answer while the work still runs.
            let answered = false;
            try {
              return await method.call(
                store,
                async (tx: unknown) => {
                  end?.();
                  try {
                    const handle = wrapHandle(tx, w, `${name}.tx`, reads, true, bound.signal, fail);
                    if (typeof handle === "object" && handle !== null) TX_HANDLES.add(handle);
                    const out = await work(handle);
                    // A dead process cannot commit, whatever its work made of the crash.
                    w.crash.assertAlive(`${name}.transaction commit`);
                    return out;
                  } finally {
                    if (!answered) end = w.inFlight?.begin(`${name}.transaction`);
                  }
                },
                bound,
              );
            } finally {
              answered = true;
              end?.();
            }
          },
          true,
        ).finally(linked.dispose);
      };
    }
    if (key === "batch") {
      return (writes: unknown, scope?: { signal?: AbortSignal }) => {
        const linked = either(scope?.signal, w.crash.signal);
        const bound = withSignal(scope, linked.signal);
        return intercept(w, `${name}.batch`, true, bound.signal, fail, () =>
          method.call(store, writes, bound),
        ).finally(linked.dispose);
      };
    }
    if (key === "apply") {
      return (handle: unknown, write: unknown, scope?: { signal?: AbortSignal }) => {
        const inTransaction =
          typeof handle === "object" && handle !== null && TX_HANDLES.has(handle);
        return intercept(w, `${name}.apply`, !inTransaction, scope?.signal, fail, () =>
          method.call(store, unwrapProxy(handle), write, scope),
        );
      };
    }
    return undefined;
  });
}

function wrapHandle(
  handle: unknown,
  w: Wiring,
  prefix: string,
  reads: readonly string[],
  inTransaction: boolean,
  ambient: AbortSignal | undefined,
  fail: (fault: Fault) => Error,
): unknown {
  if (typeof handle !== "object" || handle === null) return handle;
  // Writes inside a transaction become durable only at its commit, the transaction's own boundary.
  return proxyAdapter(handle, (key, value) => {
    if (typeof value !== "function") return undefined;
    const method = value as Method;
    const effect = !inTransaction && !reads.includes(key);
    return (...args: unknown[]) =>
      intercept(w, `${prefix}.${key}`, effect, signalIn(args) ?? ambient, fail, () =>
        method.apply(handle, args),
      );
  });
}

function wrapLog(log: SagaLog, w: Wiring, name: string): SagaLog {
  const fail = (args: readonly unknown[]) => (fault: Fault) =>
    new SagaLogError("io", sagaIdIn(args), fault.message);
  const coCommit =
    log.coCommit === undefined
      ? undefined
      : proxyAdapter(log.coCommit, (key, value) => {
          if ((key !== "write" && key !== "create") || typeof value !== "function") {
            return undefined;
          }
          const method = value as Method;
          // Inside the store's transaction: durable only at its commit, so not a boundary itself.
          return (tx: unknown, ...rest: unknown[]) =>
            intercept(w, `${name}.coCommit.${key}`, false, undefined, fail(rest), () =>
              method.call(log.coCommit, unwrapProxy(tx), ...rest),
            );
        });
  return proxyAdapter(log, (key, value) => {
    if (key === "coCommit") return coCommit;
    if (typeof value !== "function") return undefined;
    const method = value as Method;
    return (...args: unknown[]) =>
      intercept(w, `${name}.${key}`, LOG_WRITES.has(key), undefined, fail(args), () =>
        method.apply(log, args),
      );
  });
}

/**
 * One call through a wrapped adapter: gate, crash boundaries, and the fault the injector decides.
 * The call counts as in flight while it runs, unless it is `counted` by its own code.
 */
function intercept(
  w: Wiring,
  site: string,
  effect: boolean,
  signal: AbortSignal | undefined,
  fail: (fault: Fault) => Error,
  call: () => unknown,
  counted = false,
): Promise<unknown> {
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
    const result = await (w.inFlight === undefined || counted
      ? call()
      : w.inFlight.track(call, site));
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
function either(
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
function withSignal<T extends { signal?: AbortSignal } | undefined>(
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
function signalIn(args: readonly unknown[]): AbortSignal | undefined {
  for (const arg of args) {
    if (arg instanceof AbortSignal) return arg;
    const signal = (arg as { signal?: unknown } | null | undefined)?.signal;
    if (typeof arg === "object" && signal instanceof AbortSignal) return signal;
  }
  return undefined;
}

function sagaIdIn(args: readonly unknown[]): string {
  const first = args[0];
  if (typeof first === "string") return first;
  const id = (first as { sagaId?: unknown } | null | undefined)?.sagaId;
  return typeof id === "string" ? id : "";
}
