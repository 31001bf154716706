import { raceAbortWatch, signalWatch } from "./deadline.js";

/**
 * Settles with `promise`, or rejects with `reasonOf()` as soon as `signal` aborts — whichever comes
 * first. The abandoned promise's later rejection is swallowed, so giving up on a call never turns
 * into an unhandled rejection. Adapters use it so an abort rolls back at once even when the work it
 * interrupts never settles.
 */
export function raceAbort<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  reasonOf: () => unknown,
): Promise<T> {
  return raceAbortWatch(promise, signalWatch(signal), reasonOf);
}
