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
