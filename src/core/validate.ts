import { LockstepDefinitionError } from "../model/definition-error.js";

/** Describes a value and its type for an error message: ``0` (number)`. */
export function describeValue(value: unknown): string {
  let shown: string;
  try {
    shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  } catch {
    shown = Object.prototype.toString.call(value);
  }
  if (shown.length > 60) shown = `${shown.slice(0, 57)}...`;
  const type = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
  return `\`${shown}\` (${type})`;
}

/** The message for an integer option out of range, in one shape everywhere. */
export function integerMessage(name: string, min: number, value: unknown): string {
  return `Expected \`${name}\` to be an integer >= ${min}, got ${describeValue(value)}.`;
}

/** Whether `value` is an integer >= `min`. */
export function isIntegerAtLeast(value: unknown, min: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min;
}

/** Throws a definition error unless `value` is an integer >= `min`. */
export function assertInteger(name: string, value: unknown, min: number): asserts value is number {
  if (!isIntegerAtLeast(value, min))
    throw new LockstepDefinitionError(integerMessage(name, min, value));
}

/**
 * The longest duration lockstep accepts, in milliseconds: 2^31 − 1, the longest a timer can wait.
 * Node, browsers and workerd keep a timer's delay in a signed 32-bit integer and fire a longer one
 * after about 1 ms, so a larger timeout would expire at once instead of never.
 */
export const MAX_DURATION_MS = 2_147_483_647;

/**
 * What is wrong with a duration option, as a full sentence naming it and the value, or `undefined`
 * when `value` is an integer from `min` to {@link MAX_DURATION_MS}. The one check of every timeout,
 * time-to-live, delay and interval: definitions throw it ({@link assertDuration}), run-time options
 * return it as an `invalid_options` error.
 */
export function durationProblem(name: string, value: unknown, min = 1): string | undefined {
  if (isIntegerAtLeast(value, min) && value <= MAX_DURATION_MS) return undefined;
  return `Expected \`${name}\` to be an integer from ${min} to ${MAX_DURATION_MS}, got ${describeValue(value)}.`;
}

/** Throws a definition error unless `value` is a duration from `min` to {@link MAX_DURATION_MS}. */
export function assertDuration(name: string, value: unknown, min = 1): asserts value is number {
  const problem = durationProblem(name, value, min);
  if (problem !== undefined) throw new LockstepDefinitionError(problem);
}

/** Throws a definition error unless `value` is a finite number >= `min`. */
export function assertNumber(name: string, value: unknown, min: number): asserts value is number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new LockstepDefinitionError(
      `Expected \`${name}\` to be a finite number >= ${min}, got ${describeValue(value)}.`,
    );
  }
}

/** Throws a definition error unless `value` is a non-empty string without surrounding spaces. */
export function assertName(name: string, value: unknown): asserts value is string {
  if (typeof value !== "string" || value.length === 0 || value.trim() !== value) {
    throw new LockstepDefinitionError(
      `Expected \`${name}\` to be a non-empty string without leading or trailing spaces, got ${describeValue(value)}.`,
    );
  }
}

/** Throws a definition error unless `value` is a function. */
export function assertFunction(
  name: string,
  value: unknown,
): asserts value is (...args: never[]) => unknown {
  if (typeof value !== "function") {
    throw new LockstepDefinitionError(
      `Expected \`${name}\` to be a function, got ${describeValue(value)}.`,
    );
  }
}
