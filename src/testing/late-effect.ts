import { type AttemptFence, closesBySettling } from "../core/attempt-fence.js";
import { type Clock, sleep } from "../core/clock.js";
import type { CrashSwitch } from "./crash-switch.js";
import type { Fault } from "./fault-injector.js";

/**
 * A signal that follows `real`, except that it does not abort while a late effect holds it: what a
 * store is handed for a call that outlives its deadline, so that it cannot refuse the call for
 * being late, as a request already on its way could not be refused.
 */
export class HeldSignal {
  readonly #controller = new AbortController();
  readonly #real: AbortSignal | undefined;
  #holds = 0;

  constructor(real: AbortSignal | undefined) {
    this.#real = real;
    if (real === undefined) return;
    if (real.aborted) this.#controller.abort(real.reason);
    else real.addEventListener("abort", () => this.#follow(), { once: true });
  }

  /** The signal to hand the store. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Keeps the signal from aborting until the returned function is called. */
  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
      this.#follow();
    };
  }

  #follow(): void {
    const real = this.#real;
    if (this.#holds === 0 && real?.aborted === true && !this.#controller.signal.aborted) {
      this.#controller.abort(real.reason);
    }
  }
}

/** How one late effect is inflicted. */
export interface LateEffect {
  readonly fault: Fault;
  /** The caller's signal: its abort is the call's deadline. Without one, the call is due at once. */
  readonly deadline: AbortSignal | undefined;
  /** The process that made the call. */
  readonly crash: CrashSwitch;
  /** The clock the landing waits on; its timers must outlive the process. */
  readonly clock: Clock;
  /** The store's declared attempt fence, which says when the caller may learn of the call's end. */
  readonly fence: AttemptFence;
  /** Makes the call, late, and records its effect. */
  readonly land: () => Promise<unknown>;
  /** The error the caller sees. */
  readonly fail: () => Error;
  /** Counts the landing as on its way until it settles. */
  readonly track: (landing: Promise<unknown>) => void;
  /** Called once the landing has settled, whatever became of it. */
  readonly done?: () => void;
}

/**
 * Inflicts a `late_landing` or `slow_commit` on one call: waits for the call's deadline, then
 * `landingMs` more (at most the store's landing horizon), then makes the call. The caller's promise
 * settles as the store's fence declares: after the landing where the fence closes attempts by
 * letting their calls settle (and the landing dies with its process there), at the deadline
 * otherwise.
 */
export function lateEffect(late: LateEffect): Promise<unknown> {
  const settles = closesBySettling(late.fence);
  const due = deadlineOf(late.deadline, late.crash.signal);
  const delay =
    late.fence.mode === "landing_horizon"
      ? Math.min(late.fault.landingMs, late.fence.horizonMs)
      : late.fault.landingMs;
  const landing = (async () => {
    await due;
    await sleep(late.clock, delay);
    // An in-process write, or one whose connection the store kills, dies with its process.
    if (settles && late.crash.dead) throw late.fail();
    return late.land();
  })();
  const settled = landing.finally(() => late.done?.());
  late.track(settled);
  if (!settles) {
    settled.catch(() => {});
    return due.then(() => {
      throw late.fail();
    });
  }
  return settled.then((value) => {
    if (late.fault.kind === "slow_commit") return value;
    throw late.fail();
  });
}

/** Resolves when `deadline` aborts or the process dies; at once without a deadline. */
export function deadlineOf(deadline: AbortSignal | undefined, death: AbortSignal): Promise<void> {
  if (deadline === undefined || deadline.aborted || death.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      deadline.removeEventListener("abort", done);
      death.removeEventListener("abort", done);
      resolve();
    };
    deadline.addEventListener("abort", done, { once: true });
    death.addEventListener("abort", done, { once: true });
  });
}

/** The call's arguments with its signal (passed directly or as a scope's) replaced. */
export function withArgSignal(args: readonly unknown[], signal: AbortSignal): unknown[] {
  return args.map((arg) => {
    if (arg instanceof AbortSignal) return signal;
    if (
      typeof arg === "object" &&
      arg !== null &&
      (arg as { signal?: unknown }).signal instanceof AbortSignal
    ) {
      return { ...(arg as object), signal };
    }
    return arg;
  });
}
