/** A signal that never aborts, for calls made without one. */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/**
 * Settles with `promise`, or rejects with `onAbort()` as soon as `signal` aborts, so a call whose
 * command never answers does not hang its caller. The abandoned promise's rejection is swallowed.
 */
export function raceSignal<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  onAbort: () => Error,
): Promise<T> {
  // Listeners on the shared never-aborting signal would only pile up.
  if (signal === NEVER_ABORTED) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(onAbort());
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      promise.catch(() => {});
      reject(onAbort());
    };
    signal.addEventListener("abort", abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", abort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", abort);
        reject(error);
      },
    );
  });
}
