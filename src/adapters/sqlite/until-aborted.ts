import { StoreError } from "../../core/error-kinds.js";

/**
 * Settles with `promise`, or rejects with a `not_committed` {@link StoreError} as soon as `signal`
 * aborts, so an aborted transaction rolls back at once even if its work never settles.
 */
export function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  what: string,
): Promise<T> {
  const aborted = () =>
    new StoreError(
      "not_committed",
      `${what} was aborted and rolled back; nothing of it was committed.`,
      {
        cause: signal.reason,
      },
    );
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(aborted());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      reject(aborted());
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
