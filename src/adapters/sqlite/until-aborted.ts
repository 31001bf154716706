import { type AbortWatch, raceAbortWatch } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";

/**
 * Settles with `promise`, or rejects with a `not_committed` {@link StoreError} as soon as `abort`
 * fires, so an aborted transaction rolls back at once even if its work never settles.
 */
export function untilAborted<T>(
  promise: Promise<T>,
  abort: AbortWatch,
  what: () => string,
): Promise<T> {
  return raceAbortWatch(promise, abort, abortedReason(abort, what));
}

// A factory rather than a local arrow function, so that transpilers that keep function names (tsx,
// esbuild's keepNames) do not rename a fresh function on every call.
function abortedReason(abort: AbortWatch, what: () => string): () => StoreError {
  return () =>
    new StoreError(
      "not_committed",
      `${what()} was aborted and rolled back; nothing of it was committed.`,
      { cause: abort.reason },
    );
}
