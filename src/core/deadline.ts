import type { Clock } from "./clock.js";

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

const TIMEOUT = Symbol("timeout");

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
  const controller = new AbortController();
  const deadline = clock.now() + timeoutMs;
  let settle!: (outcome: CallOutcome<T>) => void;
  const abandoned = new Promise<CallOutcome<T>>((resolve) => {
    settle = resolve;
  });
  const cancelTimer = clock.setTimer(() => {
    controller.abort(TIMEOUT);
    settle({ status: "timeout" });
  }, timeoutMs);
  const onParentAbort = () => {
    controller.abort(parent?.reason);
    settle({ status: "aborted", reason: parent?.reason });
  };
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener("abort", onParentAbort, { once: true });

  const running = (async (): Promise<CallOutcome<T>> => {
    try {
      return { status: "ok", value: await fn({ signal: controller.signal, deadline }) };
    } catch (error) {
      return { status: "error", error };
    }
  })();
  try {
    if (controller.signal.aborted) return await abandoned;
    return await Promise.race([running, abandoned]);
  } finally {
    cancelTimer();
    parent?.removeEventListener("abort", onParentAbort);
  }
}
