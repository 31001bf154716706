import { type Clock, systemClock } from "../core/clock.js";
import { describeValue } from "../core/validate.js";
import { type SagaLog, SagaLogError } from "../log/saga-log.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { proxyAdapter, unwrapProxy } from "./adapter-proxy.js";
import { CrashSwitch, LOG_WRITES } from "./crash-switch.js";
import { intercept, type Method, type Wiring } from "./fault-call.js";
import { type Fault, FaultInjector } from "./fault-injector.js";
import type { FaultPlan } from "./fault-plan.js";
import { type FaultableStore, wrapStore } from "./faulty-store.js";
import { InFlightCalls } from "./in-flight-calls.js";
import type { CallGate } from "./seeded-scheduler.js";

export type { FaultableStore } from "./faulty-store.js";

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
  /**
   * The clock late effects (`late_landing`, `slow_commit`) wait on before they land: give a
   * simulated process's wrappers the world's shared clock, whose timers outlive the process, since
   * a request already sent to a remote store lands even after its sender died.
   * @default `clock`
   */
  readonly landingClock?: Clock;
}

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
  const injector = plan instanceof FaultInjector ? plan : new FaultInjector(plan);
  const clock = options.clock ?? systemClock;
  const wiring: Wiring = {
    injector,
    effects: injector.effects,
    crash: options.crash ?? new CrashSwitch(),
    clock,
    landingClock: options.landingClock ?? clock,
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
            intercept(w, {
              site: `${name}.coCommit.${key}`,
              effect: false,
              signal: undefined,
              fail: fail(rest),
              call: () => method.call(log.coCommit, unwrapProxy(tx), ...rest),
            });
        });
  return proxyAdapter(log, (key, value) => {
    if (key === "coCommit") return coCommit;
    if (typeof value !== "function") return undefined;
    const method = value as Method;
    return (...args: unknown[]) =>
      intercept(w, {
        site: `${name}.${key}`,
        effect: LOG_WRITES.has(key),
        signal: undefined,
        fail: fail(args),
        call: () => method.apply(log, args),
      });
  });
}

function sagaIdIn(args: readonly unknown[]): string {
  const first = args[0];
  if (typeof first === "string") return first;
  const id = (first as { sagaId?: unknown } | null | undefined)?.sagaId;
  return typeof id === "string" ? id : "";
}
