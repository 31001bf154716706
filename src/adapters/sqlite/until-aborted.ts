import { StoreError } from "../../core/error-kinds.js";
import { raceAbort } from "../../core/race-abort.js";

/**
 * Settles with `promise`, or rejects with a `not_committed` {@link StoreError} as soon as `signal`
 * aborts, so an aborted transaction rolls back at once even if its work never settles.
 */
export function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  what: string,
): Promise<T> {
  return raceAbort(
    promise,
    signal,
    () =>
      new StoreError(
        "not_committed",
        `${what} was aborted and rolled back; nothing of it was committed.`,
        {
          cause: signal.reason,
        },
      ),
  );
}
