import { type AttemptFence, NO_FENCE } from "../core/attempt-fence.js";
import type { StoreCapabilities } from "../core/capabilities.js";
import { sleep } from "../core/clock.js";
import { StoreError } from "../core/error-kinds.js";
import { proxyAdapter, unwrapProxy } from "./adapter-proxy.js";
import { type EffectCall, writeOf } from "./effect-ledger.js";
import { either, intercept, type Method, signalIn, type Wiring, withSignal } from "./fault-call.js";
import type { Fault } from "./fault-injector.js";
import { deadlineOf, HeldSignal, lateEffect, withArgSignal } from "./late-effect.js";

/** What `withFaults` accepts as a store: anything made by `defineStore`. */
export interface FaultableStore {
  readonly id: string;
  readonly capabilities: StoreCapabilities;
  readonly handle: unknown;
  /** How the store closes an attempt; late effects land only as it allows. */
  readonly fence?: AttemptFence;
  /** How many rows or documents a write's result says it affected; zero is no effect. */
  readonly affected?: (result: never) => number;
}

/** Transaction handles handed out by a wrapped store: `apply` through one is not a boundary. */
const TX_HANDLES = new WeakSet<object>();

/** What a wrapped store's calls need to know about it. */
interface StoreWiring extends Wiring {
  readonly fence: AttemptFence;
  readonly reads: readonly string[];
  readonly fail: (fault: Fault) => Error;
  /** Whether a call's result is an effect (the store's `affected` says it changed something). */
  readonly affects: (result: unknown) => boolean;
}

/** Effects made inside one transaction: they count once it commits. */
type Staged = {
  readonly site: string;
  readonly call: EffectCall | undefined;
  readonly write: string | undefined;
}[];

export function wrapStore(
  store: FaultableStore,
  wiring: Wiring,
  name: string,
  reads: readonly string[],
): FaultableStore {
  const affected = store.affected as ((result: unknown) => number) | undefined;
  const w: StoreWiring = {
    ...wiring,
    fence: store.fence ?? NO_FENCE,
    reads,
    fail: (fault: Fault) => new StoreError(fault.errorKind, fault.message),
    affects: (result) => {
      if (affected === undefined) return true;
      try {
        const n = affected(result);
        return typeof n === "number" && n > 0;
      } catch {
        return false;
      }
    },
  };
  const root = wrapHandle(store.handle, w, `${name}.handle`, {});
  // Each step call gets a handle of its own, so that its effects can be told from other calls'.
  const handleFor = (scope: CallScopeLike | undefined, ...rest: unknown[]) => {
    const held = new HeldSignal(scope?.signal);
    const own = (store as { handleFor?: Method }).handleFor;
    const handle =
      own === undefined
        ? store.handle
        : own.call(store, scope === undefined ? scope : withSignal(scope, held.signal), ...rest);
    return wrapHandle(handle, w, `${name}.handle`, { held, deadline: scope?.signal });
  };
  return proxyAdapter(store, (key, value) => {
    if (key === "handle") return value === store.handle ? root : undefined;
    if (key === "handleFor") return handleFor;
    if (typeof value !== "function") return undefined;
    const method = value as Method;
    if (key === "transaction") {
      return (work: (tx: unknown) => Promise<unknown>, scope?: CallScopeLike) =>
        transaction(w, name, method.bind(store) as TransactionMethod, work, scope);
    }
    if (key === "batch") {
      return (writes: unknown, scope?: CallScopeLike) => {
        const linked = either(scope?.signal, w.crash.signal);
        const site = `${name}.batch`;
        const owner = () => w.effects.callOf(scope?.signal);
        return intercept(w, {
          site,
          effect: true,
          signal: linked.signal,
          fail: w.fail,
          record: (_result, late) =>
            w.effects.record(site, owner(), late, w.clock.now(), writeOf([writes])),
          late: (fault, run) => {
            const held = new HeldSignal(scope?.signal);
            return lateStoreCall(w, fault, scope?.signal, held.hold(), () =>
              run(() => method.call(store, writes, withSignal(scope, held.signal))),
            );
          },
          call: () => method.call(store, writes, withSignal(scope, linked.signal)),
        }).finally(linked.dispose);
      };
    }
    if (key === "apply") {
      return (handle: unknown, write: unknown, scope?: CallScopeLike) => {
        const inTransaction =
          typeof handle === "object" && handle !== null && TX_HANDLES.has(handle);
        const site = `${name}.apply`;
        const owner = () => w.effects.callOf(handle) ?? w.effects.callOf(scope?.signal);
        return intercept(w, {
          site,
          effect: !inTransaction,
          signal: scope?.signal,
          fail: w.fail,
          record: inTransaction
            ? undefined
            : (result, late) => {
                if (w.affects(result)) {
                  w.effects.record(site, owner(), late, w.clock.now(), writeOf([write]));
                }
              },
          late: inTransaction
            ? undefined
            : (fault, run) => {
                const held = new HeldSignal(scope?.signal);
                return lateStoreCall(w, fault, scope?.signal, held.hold(), () =>
                  run(() =>
                    method.call(
                      store,
                      unwrapProxy(handle),
                      write,
                      scope === undefined ? scope : withSignal(scope, held.signal),
                    ),
                  ),
                );
              },
          call: () => method.call(store, unwrapProxy(handle), write, scope),
        });
      };
    }
    return undefined;
  });
}

type TransactionMethod = (
  work: (tx: unknown) => Promise<unknown>,
  scope?: CallScopeLike,
) => Promise<unknown>;

/** A call's scope as adapters get it: a signal, a deadline, whatever else the adapter reads. */
type CallScopeLike = { readonly signal?: AbortSignal };

/** A late effect on a store call outside any transaction; `release` frees the held signal. */
function lateStoreCall(
  w: StoreWiring,
  fault: Fault,
  deadline: AbortSignal | undefined,
  release: () => void,
  land: () => Promise<unknown>,
): Promise<unknown> {
  return lateEffect({
    fault,
    deadline,
    crash: w.crash,
    clock: w.landingClock,
    fence: w.fence,
    land,
    fail: () => w.fail(fault),
    track: (landing) => w.injector.landing(landing),
    done: release,
  });
}

/**
 * A wrapped transaction: `slow_commit` (and `late_landing`, which cannot outlive an interactive
 * transaction any other way) lets the work run, then holds the commit past the deadline.
 */
function transaction(
  w: StoreWiring,
  name: string,
  method: TransactionMethod,
  work: (tx: unknown) => Promise<unknown>,
  scope: CallScopeLike | undefined,
): Promise<unknown> {
  const site = `${name}.transaction`;
  // The transaction dies with the process, rolling back and freeing its connection.
  const linked = either(scope?.signal, w.crash.signal);
  const run = (slow: Fault | undefined) => {
    const held = slow === undefined ? undefined : new HeldSignal(linked.signal);
    const release = held?.hold();
    const given = withSignal(scope, held?.signal ?? linked.signal);
    const staged: Staged = [];
    let txHandle: unknown;
    const owner = () => w.effects.callOf(txHandle) ?? w.effects.callOf(scope?.signal);
    // In flight while it begins and while it commits or rolls back, not while its work runs.
    let end = w.inFlight?.begin(site);
    // The store may give up on its work (an abort) and answer while the work still runs.
    let answered = false;
    const committed = (async () => {
      try {
        return await method(async (tx: unknown) => {
          end?.();
          try {
            txHandle = wrapHandle(tx, w, `${name}.tx`, {
              staged,
              deadline: linked.signal,
              owner: scope?.signal,
            });
            if (typeof txHandle === "object" && txHandle !== null) TX_HANDLES.add(txHandle);
            staged.length = 0;
            const out = await work(txHandle);
            if (slow !== undefined) {
              await deadlineOf(
                scope?.signal === undefined ? undefined : linked.signal,
                w.crash.signal,
              );
              await sleep(w.landingClock, slow.landingMs);
              // A process that died meanwhile commits nothing where its store kills its work.
              if (w.fence.mode === "kill_and_wait" || w.fence.mode === "in_process") {
                w.crash.assertAlive(`${site} commit`);
              }
            } else {
              // A dead process cannot commit, whatever its work made of the crash.
              w.crash.assertAlive(`${site} commit`);
            }
            return out;
          } finally {
            if (!answered) end = w.inFlight?.begin(site);
          }
        }, given);
      } finally {
        answered = true;
        end?.();
      }
    })();
    const recorded = committed.then((out) => {
      for (const e of staged)
        w.effects.record(e.site, e.call ?? owner(), slow !== undefined, w.clock.now(), e.write);
      return out;
    });
    if (slow === undefined) return recorded;
    const settled = recorded.finally(() => release?.());
    w.injector.landing(settled);
    if (w.fence.mode === "kill_and_wait" || w.fence.mode === "in_process") return settled;
    settled.catch(() => {});
    return deadlineOf(scope?.signal, w.crash.signal).then(() => {
      throw w.fail(slow);
    });
  };
  return intercept(w, {
    site,
    effect: true,
    signal: linked.signal,
    fail: w.fail,
    counted: true,
    late: (fault) => run(fault),
    call: () => run(undefined),
  }).finally(linked.dispose);
}

/** Where a wrapped handle's calls belong. */
interface HandleScope {
  /** For a step call's own handle: the signal handed to the store, held by late effects. */
  readonly held?: HeldSignal;
  /** The signal that ends the handle's calls: the step call's, or the transaction's. */
  readonly deadline?: AbortSignal | undefined;
  /** Inside a transaction: where its effects wait for the commit. */
  readonly staged?: Staged;
  /** Inside a transaction: the signal of the call that opened it, which names its step. */
  readonly owner?: AbortSignal | undefined;
}

function wrapHandle(handle: unknown, w: StoreWiring, prefix: string, at: HandleScope): unknown {
  if (typeof handle !== "object" || handle === null) return handle;
  const inTransaction = at.staged !== undefined;
  // Writes inside a transaction become durable only at its commit, the transaction's own boundary.
  const proxy: object = proxyAdapter(handle, (key, value) => {
    if (typeof value !== "function") return undefined;
    const method = value as Method;
    const read = w.reads.includes(key);
    const site = `${prefix}.${key}`;
    return (...args: unknown[]) => {
      const argSignal = signalIn(args);
      const signal = argSignal ?? at.deadline;
      const owner = () =>
        w.effects.callOf(proxy) ?? w.effects.callOf(argSignal) ?? w.effects.callOf(at.owner);
      return intercept(w, {
        site,
        effect: !inTransaction && !read,
        signal,
        fail: w.fail,
        record: read
          ? undefined
          : (result, late) => {
              if (!w.affects(result)) return;
              const write = writeOf(args);
              if (at.staged !== undefined) at.staged.push({ site, call: owner(), write });
              else w.effects.record(site, owner(), late, w.clock.now(), write);
            },
        // A statement cannot land after its transaction: it holds until the deadline and fails.
        late: inTransaction
          ? (fault) =>
              deadlineOf(signal, w.crash.signal).then(() => {
                throw w.fail(fault);
              })
          : (fault, run) => {
              const held = argSignal === undefined ? undefined : new HeldSignal(argSignal);
              const releases = [held?.hold(), at.held?.hold()];
              return lateStoreCall(
                w,
                fault,
                signal,
                () => {
                  for (const release of releases) release?.();
                },
                () =>
                  run(() =>
                    method.apply(
                      handle,
                      held === undefined ? args : withArgSignal(args, held.signal),
                    ),
                  ),
              );
            },
        call: () => method.apply(handle, args),
      });
    };
  });
  return proxy;
}
