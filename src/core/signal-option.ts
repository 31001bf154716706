import { describeValue } from "./validate.js";

/**
 * Whether `value` can serve as an abort signal: an `AbortSignal`, or (from another realm or a
 * polyfill) an object with a boolean `aborted` and the listener methods lockstep calls.
 */
export function isAbortSignal(value: unknown): value is AbortSignal {
  if (typeof AbortSignal !== "undefined" && value instanceof AbortSignal) return true;
  if (typeof value !== "object" || value === null) return false;
  const signal = value as Partial<Record<keyof AbortSignal, unknown>>;
  return (
    typeof signal.aborted === "boolean" &&
    typeof signal.addEventListener === "function" &&
    typeof signal.removeEventListener === "function"
  );
}

/**
 * What is wrong with a `signal` option, as a full sentence naming the value, or `undefined` when it
 * is absent or an abort signal. Checked before anything is written: a run given a bad signal must
 * not start, take a lease and then fail on it.
 */
export function signalProblem(value: unknown): string | undefined {
  if (value === undefined || isAbortSignal(value)) return undefined;
  return `Expected \`signal\` to be an AbortSignal, got ${describeValue(value)}. Nothing was written.`;
}
