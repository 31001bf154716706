import { type Clock, systemClock } from "./clock.js";
import type { raceAbort } from "./race-abort.js";

/** What a deadline-bounded call into user or adapter code came to. */
export type CallOutcome<T> =
  | { readonly status: "ok"; readonly value: T }
  | { readonly status: "error"; readonly error: unknown }
  | {
      readonly status: "timeout";
      /**
       * The abandoned call, when it had started: settles (never rejects) once the call itself
       * returns or throws. Until then the call is an open attempt that may still land.
       */
      readonly pending?: Promise<void>;
    }
  | {
      readonly status: "aborted";
      readonly reason: unknown;
      /** The abandoned call, when it had started; see the `timeout` outcome's. */
      readonly pending?: Promise<void>;
    };

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

/**
 * The abort state of one scope. Its `AbortSignal` is created only when someone reads
 * `scope.signal`, already aborted (with the same reason) if the scope ended before that; listeners
 * added through {@link AbortWatch} run in the same turn as the signal's own.
 */
class ScopeAbort implements AbortWatch {
  #aborted = false;
  #reason: unknown;
  #controller: AbortController | undefined;
  // Most scopes get one listener (the adapter's), so it needs no array.
  #listener: (() => void) | undefined;
  #more: (() => void)[] | undefined;

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
    const listener = this.#listener;
    const more = this.#more;
    this.#listener = undefined;
    this.#more = undefined;
    listener?.();
    if (more !== undefined) for (const each of more) each();
  }

  onAbort(listener: () => void): void {
    if (this.#aborted) return;
    if (this.#listener === undefined && this.#more === undefined) this.#listener = listener;
    else if (this.#more === undefined) this.#more = [listener];
    else this.#more.push(listener);
  }

  offAbort(listener: () => void): void {
    if (this.#listener === listener) {
      this.#listener = undefined;
      return;
    }
    const more = this.#more;
    if (more === undefined) return;
    const index = more.indexOf(listener);
    if (index >= 0) more.splice(index, 1);
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
  return DeadlineScope.abortOf(scope) ?? new SignalWatch(scope.signal);
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

/**
 * The scope {@link callWithDeadline} hands its call. `signal` is an own, enumerable accessor (so a
 * spread copy of the scope carries the signal) that creates the AbortSignal on first read; one shared
 * descriptor, so no function is created per scope. Only the scope itself is recognised by
 * {@link abortWatchOf}: a copy, whose signal may have been replaced, is watched through its signal.
 */
class DeadlineScope implements CallScope {
  static readonly #signal: PropertyDescriptor = {
    enumerable: true,
    get(this: DeadlineScope): AbortSignal {
      return this.#abort.signal;
    },
  };

  readonly deadline: number;
  declare readonly signal: AbortSignal;
  readonly #abort: ScopeAbort;

  constructor(abort: ScopeAbort, deadline: number) {
    this.deadline = deadline;
    this.#abort = abort;
    Object.defineProperty(this, "signal", DeadlineScope.#signal);
  }

  /** The abort state behind `scope`, when it is a scope of callWithDeadline's own. */
  static abortOf(scope: CallScope): ScopeAbort | undefined {
    return #abort in scope ? scope.#abort : undefined;
  }
}

/**
 * Calls `fn` with a signal that aborts at `now + timeoutMs` or when `parent` aborts, and settles as
 * soon as any of the three happens — never later. A call that ignores its signal is abandoned (its
 * eventual result is dropped), which is why a timed-out write counts as `unknown`, not failed.
 */
export function callWithDeadline<T>(
  clock: Clock,
  timeoutMs: number,
  parent: AbortSignal | undefined,
  fn: (scope: CallScope) => Promise<T> | T,
): Promise<CallOutcome<T>> {
  const outcome = callWithDeadlineNow(clock, timeoutMs, parent, fn);
  return outcome instanceof Promise ? outcome : Promise.resolve(outcome);
}

/**
 * {@link callWithDeadline}, returning the outcome itself, without a promise, when `fn` settles it
 * before returning (it returned a value or threw, or the parent had already aborted).
 */
export function callWithDeadlineNow<T>(
  clock: Clock,
  timeoutMs: number,
  parent: AbortSignal | undefined,
  fn: (scope: CallScope) => Promise<T> | T,
): CallOutcome<T> | Promise<CallOutcome<T>> {
  const call = new DeadlineCall<T>(parent);
  try {
    const deadline = clock.now() + timeoutMs;
    // On the system clock the timer is set only once `fn` has returned unsettled: no timer fires
    // while synchronous code runs, so it aborts at the same moment, and a call that finishes
    // synchronously (runAtomic on SQLite) needs none. Any other clock, a virtual one among them,
    // gets its timer first, in the order it always had among the timers `fn` sets.
    const late = clock === systemClock;
    if (!late) call.armTimer(clock.setTimer(() => call.timedOut(), timeoutMs));
    call.watchParent();
    let returned: Promise<T> | T;
    try {
      returned = fn(new DeadlineScope(call, deadline));
    } catch (error) {
      call.settle({ status: "error", error });
      return call.outcome();
    }
    if (!isPromiseLike(returned)) {
      call.settle({ status: "ok", value: returned });
      return call.outcome();
    }
    if (late && !call.settled) {
      call.armTimer(clock.setTimer(() => call.timedOut(), Math.max(0, deadline - clock.now())));
    }
    call.track(
      Promise.resolve(returned).then(
        (value) => call.settle({ status: "ok", value }),
        (error: unknown) => call.settle({ status: "error", error }),
      ),
    );
  } catch (error) {
    call.dispose();
    return Promise.reject(error);
  }
  return call.outcome();
}

function isPromiseLike<T>(value: Promise<T> | T): value is Promise<T> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as PromiseLike<T>).then === "function"
  );
}

/**
 * One call of {@link callWithDeadline}: the first of the call, the timer and the parent to settle it
 * wins, and settling clears the timer and the parent's listener at once, so no promise or async
 * function is spent on cleaning up afterwards. A call settled before anyone asks for its outcome
 * gets an already-resolved promise.
 */
class DeadlineCall<T> extends ScopeAbort {
  readonly #parent: AbortSignal | undefined;
  #outcome: CallOutcome<T> | undefined;
  #resolve: ((outcome: CallOutcome<T>) => void) | undefined;
  #cancelTimer: (() => void) | undefined;
  #onParentAbort: (() => void) | undefined;
  #settled = false;
  #pending: Promise<void> | undefined;

  constructor(parent: AbortSignal | undefined) {
    super();
    this.#parent = parent;
  }

  get settled(): boolean {
    return this.#settled;
  }

  /** The call's outcome, as it is if the call has settled; asked for once. */
  outcome(): CallOutcome<T> | Promise<CallOutcome<T>> {
    if (this.#outcome !== undefined) return this.#outcome;
    return new Promise<CallOutcome<T>>((resolve) => {
      this.#resolve = resolve;
    });
  }

  /** The started call, settling when it does: handed out with a timeout or an abort. */
  track(pending: Promise<void>): void {
    this.#pending = pending;
  }

  armTimer(cancel: () => void): void {
    // A clock may fire a timer before setTimer returns; the call is then settled already.
    if (this.#settled) cancel();
    else this.#cancelTimer = cancel;
  }

  watchParent(): void {
    const parent = this.#parent;
    if (parent === undefined) return;
    if (parent.aborted) {
      this.parentAborted();
      return;
    }
    this.#onParentAbort = parentListener(this);
    parent.addEventListener("abort", this.#onParentAbort, { once: true });
  }

  timedOut(): void {
    this.abort(TIMEOUT);
    const pending = this.#pending;
    this.settle(pending === undefined ? { status: "timeout" } : { status: "timeout", pending });
  }

  parentAborted(): void {
    const reason = this.#parent?.reason;
    this.abort(reason);
    const pending = this.#pending;
    this.settle(
      pending === undefined
        ? { status: "aborted", reason }
        : { status: "aborted", reason, pending },
    );
  }

  settle(outcome: CallOutcome<T>): void {
    if (this.#settled) return;
    this.#settled = true;
    this.dispose();
    if (this.#resolve !== undefined) this.#resolve(outcome);
    else this.#outcome = outcome;
  }

  dispose(): void {
    const cancel = this.#cancelTimer;
    this.#cancelTimer = undefined;
    cancel?.();
    if (this.#onParentAbort !== undefined) {
      this.#parent?.removeEventListener("abort", this.#onParentAbort);
      this.#onParentAbort = undefined;
    }
  }
}

// A factory rather than a local arrow function, so that transpilers that keep function names (tsx,
// esbuild's keepNames) do not rename a fresh function on every call.
function parentListener<T>(call: DeadlineCall<T>): () => void {
  return () => call.parentAborted();
}
