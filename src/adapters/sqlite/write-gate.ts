import { type AbortWatch, signalWatch } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";

/**
 * How long, in milliseconds, the gate is handed from holder to holder without the event loop getting
 * a turn. SQLite's statements are synchronous and a free gate is taken without a promise, so a burst
 * of transactions would otherwise run to its end in one macrotask, and no timer (lockstep's own
 * deadlines and lease renewals included), no I/O and no request would be served meanwhile.
 */
export const YIELD_AFTER_MS = 8;

/**
 * An async FIFO mutex. Every write to one SQLite file from this process passes through the same
 * gate, so a writer waits on a promise instead of inside `busy_timeout`, which would block the event
 * loop while the connection that holds the lock can never get to run.
 *
 * The gate also keeps the event loop turning: once it has been granted for {@link YIELD_AFTER_MS}
 * within one turn of the loop, it holds itself until the next `setImmediate` before granting again,
 * so timers and I/O run between bursts of synchronous transactions.
 */
export class WriteGate {
  #held = false;
  readonly #waiters: Array<() => void> = [];
  /** When the gate was first granted since the event loop last had a turn; `undefined` after one. */
  #busySince: number | undefined;
  /** Whether the gate is held only to let the event loop turn, with no holder inside it. */
  #yielding = false;

  /**
   * Whether a holder has the gate now (a transaction may be open). `false` while the gate is held
   * only to let the event loop turn: synchronous work that runs then cannot interleave with anyone.
   */
  get busy(): boolean {
    return this.#held && !this.#yielding;
  }

  /**
   * Takes the gate at once when nobody holds it, returning its release function, without the
   * promise {@link WriteGate.acquire} costs; `undefined` when it is held (then wait with `acquire`,
   * which keeps the queue's order). Throws the same `not_committed` {@link StoreError} as `acquire`
   * if `abort` has already fired.
   */
  tryAcquire(abort?: AbortWatch): (() => void) | undefined {
    if (abort?.aborted) throw abortedWhileWaiting();
    if (this.#held || this.#yieldIfDue()) return undefined;
    this.#held = true;
    this.#noteGrant();
    return this.#releaser();
  }

  /**
   * Resolves with a release function once the gate is free. Rejects with a `not_committed`
   * {@link StoreError} if `signal` aborts first, because nothing was written while waiting.
   */
  acquire(signal?: AbortSignal | AbortWatch): Promise<() => void> {
    const abort = signal === undefined || !isSignal(signal) ? signal : signalWatch(signal);
    if (abort?.aborted) return Promise.reject(abortedWhileWaiting());
    if (!this.#held && !this.#yieldIfDue()) {
      this.#held = true;
      this.#noteGrant();
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        abort?.offAbort(onAbort);
        resolve(this.#releaser());
      };
      const onAbort = () => {
        const index = this.#waiters.indexOf(grant);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(abortedWhileWaiting());
      };
      abort?.onAbort(onAbort);
      this.#waiters.push(grant);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      // Releasing twice would hand the gate to two holders at once.
      if (released) return;
      released = true;
      if (this.#waiters.length > 0 && this.#yieldDue()) {
        // Still held: the next waiter is granted after the event loop has had its turn.
        this.#yieldThen(() => this.#handOver());
        return;
      }
      this.#handOver();
    };
  }

  #handOver(): void {
    const next = this.#waiters.shift();
    if (next === undefined) {
      this.#held = false;
      return;
    }
    this.#noteGrant();
    next();
  }

  /** Starts timing the loop's current turn at its first grant; a `setImmediate` ends the turn. */
  #noteGrant(): void {
    if (this.#busySince !== undefined) return;
    this.#busySince = performance.now();
    setImmediate(() => {
      this.#busySince = undefined;
    });
  }

  #yieldDue(): boolean {
    return this.#busySince !== undefined && performance.now() - this.#busySince >= YIELD_AFTER_MS;
  }

  /** Holds a free gate until the loop has had a turn, when a yield is due; says whether it did. */
  #yieldIfDue(): boolean {
    if (!this.#yieldDue()) return false;
    this.#held = true;
    this.#yieldThen(() => this.#handOver());
    return true;
  }

  #yieldThen(then: () => void): void {
    this.#yielding = true;
    setImmediate(() => {
      this.#busySince = undefined;
      this.#yielding = false;
      then();
    });
  }
}

function isSignal(signal: AbortSignal | AbortWatch): signal is AbortSignal {
  return typeof (signal as AbortSignal).addEventListener === "function";
}

function abortedWhileWaiting(): StoreError {
  return new StoreError(
    "not_committed",
    "The write was aborted while waiting for the SQLite write gate; nothing was written.",
  );
}

interface GateEntry {
  readonly gate: WriteGate;
  refs: number;
}

// Kept on globalThis under a registered symbol so the ESM and CJS copies of lockstep in one process
// share one gate per file; two gates for one file would let them block each other in busy_timeout.
const REGISTRY_KEY = Symbol.for("lockstep.sqlite.write-gates");

function registry(): Map<string, GateEntry> {
  const holder = globalThis as Record<symbol, unknown>;
  let map = holder[REGISTRY_KEY] as Map<string, GateEntry> | undefined;
  if (map === undefined) {
    map = new Map();
    holder[REGISTRY_KEY] = map;
  }
  return map;
}

/** The gate of the file at `realPath`, shared with every other opener in this process. */
export function retainGate(realPath: string): WriteGate {
  const map = registry();
  const entry = map.get(realPath);
  if (entry !== undefined) {
    entry.refs++;
    return entry.gate;
  }
  const gate = new WriteGate();
  map.set(realPath, { gate, refs: 1 });
  return gate;
}

/** Drops one reference to the gate of `realPath`, forgetting it when nobody holds the file open. */
export function releaseGate(realPath: string): void {
  const map = registry();
  const entry = map.get(realPath);
  if (entry === undefined) return;
  entry.refs--;
  if (entry.refs <= 0) map.delete(realPath);
}
