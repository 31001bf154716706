import type { Clock } from "./clock.js";
import type { raceAbort } from "./race-abort.js";

/** What a deadline-bounded call into user or adapter code came to. */
export type CallOutcome<T> =
  | { readonly status: "ok"; readonly value: T }
  | { readonly status: "error"; readonly error: unknown }
  | { readonly status: "timeout" }
  | { readonly status: "aborted"; readonly reason: unknown };

/** The signal and absolute deadline handed to every call into user or adapter code. */
export interface CallScope {
  /** Aborts when the deadline passes or the caller cancels. */
  readonly signal: AbortSignal;
  /** The absolute deadline, in milliseconds since the epoch on the run's clock. */
  readonly deadline: number;
}

/**
 * An abort observed without an `AbortSignal`, for adapters' hot paths: creating a signal and adding
 * its first listener costs several microseconds, and most scopes end without ever aborting. A scope
 * from {@link callWithDeadline} carries one; {@link abortWatchOf} gives it, or wraps the scope's signal.
 */
export interface AbortWatch {
  /** Whether the scope has aborted; the same as `scope.signal.aborted`. */
  readonly aborted: boolean;
  /** Why it aborted; the same as `scope.signal.reason`. */
  readonly reason: unknown;
  /** Calls `listener` once when the scope aborts; never if it already has. */
  onAbort(listener: () => void): void;
  /** Stops calling `listener`. */
  offAbort(listener: () => void): void;
}

const TIMEOUT = Symbol("timeout");
// Registered, so that a scope made by the ESM copy of lockstep is recognised by the CJS copy.
const WATCH = Symbol.for("lockstep.call-scope.abort-watch");

/**
 * The abort state of one scope. Its `AbortSignal` is created only when someone reads
 * `scope.signal`, already aborted (with the same reason) if the scope ended before that; listeners
 * added through {@link AbortWatch} run in the same turn as the signal's own.
 */
class ScopeAbort implements AbortWatch {
  #aborted = false;
  #reason: unknown;
  #controller: AbortController | undefined;
  #listeners: (() => void)[] | undefined;
  /** The scope object this state belongs to; a copy of it (spread, rebuilt) is not recognised. */
  scope: CallScope | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
  }

  onAbort(listener: () => void): void {
    if (this.#aborted) return;
    if (this.#listeners === undefined) this.#listeners = [listener];
    else this.#listeners.push(listener);
  }

  offAbort(listener: () => void): void {
    const listeners = this.#listeners;
    if (listeners === undefined) return;
    const index = listeners.indexOf(listener);
    if (index >= 0) listeners.splice(index, 1);
  }
}

/** An {@link AbortWatch} over a plain `AbortSignal`. */
class SignalWatch implements AbortWatch {
  readonly #signal: AbortSignal;

  constructor(signal: AbortSignal) {
    this.#signal = signal;
  }

  get aborted(): boolean {
    return this.#signal.aborted;
  }

  get reason(): unknown {
    return this.#signal.reason;
  }

  onAbort(listener: () => void): void {
    this.#signal.addEventListener("abort", listener, { once: true });
  }

  offAbort(listener: () => void): void {
    this.#signal.removeEventListener("abort", listener);
  }
}

/** Watches `signal` through the {@link AbortWatch} interface. */
export function signalWatch(signal: AbortSignal): AbortWatch {
  return new SignalWatch(signal);
}

/**
 * How to observe `scope`'s abort: the state behind a scope from {@link callWithDeadline} itself (no
 * `AbortSignal` needed), or a watch over `scope.signal` for any other scope.
 */
export function abortWatchOf(scope: CallScope): AbortWatch {
  const own = (scope as unknown as Record<symbol, unknown>)[WATCH] as ScopeAbort | undefined;
  if (own !== undefined && own.scope === scope) return own;
  return new SignalWatch(scope.signal);
}

/**
 * Settles with `promise`, or rejects with `reasonOf()` as soon as `abort` fires — whichever comes
 * first; {@link raceAbort} for an {@link AbortWatch}. The abandoned promise's later rejection is
 * swallowed, so giving up on a call never turns into an unhandled rejection.
 */
export function raceAbortWatch<T>(
  promise: Promise<T>,
  abort: AbortWatch,
  reasonOf: () => unknown,
): Promise<T> {
  if (abort.aborted) {
    promise.catch(() => {});
    return Promise.reject(reasonOf());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = rejectOnAbort(promise, reasonOf, reject);
    abort.onAbort(onAbort);
    promise.then(
      (value) => {
        abort.offAbort(onAbort);
        resolve(value);
      },
      (error: unknown) => {
        abort.offAbort(onAbort);
        reject(error);
      },
    );
  });
}

// The listener comes from a factory rather than a local arrow function, so that transpilers that
// keep function names (tsx, esbuild's keepNames) do not rename a fresh function on every call.
function rejectOnAbort(
  promise: Promise<unknown>,
  reasonOf: () => unknown,
  reject: (error: unknown) => void,
): () => void {
  return () => {
    promise.catch(() => {});
    reject(reasonOf());
  };
}

function scopeOf(abort: ScopeAbort, deadline: number): CallScope {
  const scope: CallScope = {
    deadline,
    get signal() {
      return abort.signal;
    },
    [WATCH]: abort,
  } as CallScope;
  abort.scope = scope;
  return scope;
}

/**
 * Calls `fn` with a signal that aborts at `now + timeoutMs` or when `parent` aborts, and settles as
 * soon as any of the three happens — never later. A call that ignores its signal is abandoned (its
 * eventual result is dropped), which is why a timed-out write counts as `unknown`, not failed.
 */
export async function callWithDeadline<T>(
  clock: Clock,
  timeoutMs: number,
  parent: AbortSignal | undefined,
  fn: (scope: CallScope) => Promise<T> | T,
): Promise<CallOutcome<T>> {
  const abort = new ScopeAbort();
  const deadline = clock.now() + timeoutMs;
  let settle!: (outcome: CallOutcome<T>) => void;
  // The first of the call, the timer and the parent to settle it wins; later settles do nothing.
  const settled = new Promise<CallOutcome<T>>((resolve) => {
    settle = resolve;
  });
  const cancelTimer = clock.setTimer(() => {
    abort.abort(TIMEOUT);
    settle({ status: "timeout" });
  }, timeoutMs);
  let onParentAbort: (() => void) | undefined;
  if (parent !== undefined) {
    onParentAbort = () => {
      abort.abort(parent.reason);
      settle({ status: "aborted", reason: parent.reason });
    };
    if (parent.aborted) onParentAbort();
    else parent.addEventListener("abort", onParentAbort, { once: true });
  }
  try {
    Promise.resolve(fn(scopeOf(abort, deadline))).then(
      (value) => settle({ status: "ok", value }),
      (error: unknown) => settle({ status: "error", error }),
    );
  } catch (error) {
    settle({ status: "error", error });
  }
  try {
    return await settled;
  } finally {
    cancelTimer();
    if (onParentAbort !== undefined) parent?.removeEventListener("abort", onParentAbort);
  }
}
