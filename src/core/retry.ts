import { LockstepDefinitionError } from "../model/definition-error.js";
import { ERROR_KINDS, ErrorKind } from "../model/error-kind.js";
import { assertDuration, assertInteger, assertNumber, describeValue } from "./validate.js";

/** How a step, probe or compensation is retried. Every field has a default. */
export interface RetryPolicy {
  /**
   * Total attempts, the first included.
   * @default 3
   */
  readonly attempts: number;
  /**
   * Delay before the second attempt, in milliseconds: an integer from 0 to 2^31 − 1.
   * @default 50
   */
  readonly initialDelayMs: number;
  /**
   * The largest delay between attempts, in milliseconds: an integer from 0 to 2^31 − 1.
   * @default 5000
   */
  readonly maxDelayMs: number;
  /**
   * Growth of the delay per attempt.
   * @default 2
   */
  readonly factor: number;
  /**
   * Fraction of each delay that is randomized (0 = none, 1 = "full jitter"), so that runners that
   * failed together do not retry together.
   * @default 0.5
   */
  readonly jitter: number;
  /**
   * Which error kinds are retried. A kind that may have applied (`unknown`, `timeout`) is retried only
   * after the probe has shown the write did not land, and always with the same idempotency key.
   * @default ["transient", "unknown", "timeout"]
   * @example ["transient"]
   */
  readonly retryOn: readonly ErrorKind[];
}

/** The default retry policy. */
export const DEFAULT_RETRY: RetryPolicy = Object.freeze({
  attempts: 3,
  initialDelayMs: 50,
  maxDelayMs: 5_000,
  factor: 2,
  jitter: 0.5,
  retryOn: Object.freeze([ErrorKind.Transient, ErrorKind.Unknown, ErrorKind.Timeout]),
});

const RETRY_FIELDS: readonly string[] = Object.keys(DEFAULT_RETRY);

/**
 * Throws a definition error unless `value` is absent or an object of retry settings with no keys
 * but `fields`: spread over the defaults, a number, a string or a misspelt field would otherwise be
 * taken for the defaults.
 */
export function checkRetryShape(
  where: string,
  value: unknown,
  fields: readonly string[] = RETRY_FIELDS,
): void {
  if (value === undefined) return;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new LockstepDefinitionError(
      `Expected \`${where}\` to be an object of retry settings (${fields.join(", ")}), each optional, got ${describeValue(value)}.`,
    );
  }
  const unknown = Object.keys(value).find((key) => !fields.includes(key));
  if (unknown !== undefined) {
    throw new LockstepDefinitionError(
      `Expected \`${where}\` to have only ${fields.map((f) => `\`${f}\``).join(", ")}, got \`${unknown}\`.`,
    );
  }
}

/** Fills in a partial retry policy and validates every field, naming the bad value. */
export function resolveRetry(
  where: string,
  partial: Partial<RetryPolicy> | undefined,
  base: RetryPolicy = DEFAULT_RETRY,
): RetryPolicy {
  checkRetryShape(where, partial);
  const policy = { ...base, ...partial };
  assertInteger(`${where}.attempts`, policy.attempts, 1);
  assertDuration(`${where}.initialDelayMs`, policy.initialDelayMs, 0);
  assertDuration(`${where}.maxDelayMs`, policy.maxDelayMs, 0);
  assertNumber(`${where}.factor`, policy.factor, 1);
  assertJitter(`${where}.jitter`, policy.jitter);
  if (!Array.isArray(policy.retryOn) || policy.retryOn.some((k) => !ERROR_KINDS.includes(k))) {
    throw new LockstepDefinitionError(
      `Expected \`${where}.retryOn\` to be a list of error kinds (${ERROR_KINDS.join(", ")}), got ${describeValue(policy.retryOn)}.`,
    );
  }
  return Object.freeze({ ...policy, retryOn: Object.freeze([...policy.retryOn]) });
}

/** Throws a definition error unless `value` is a jitter fraction: a number from 0 to 1. */
export function assertJitter(name: string, value: unknown): asserts value is number {
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw new LockstepDefinitionError(
      `Expected \`${name}\` to be a number from 0 to 1, got ${describeValue(value)}.`,
    );
  }
}

/**
 * The delay before attempt `attempt + 1`, after `attempt` attempts: exponential from
 * `initialDelayMs`, capped at `maxDelayMs`, with the `jitter` fraction randomized by `random`.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const exponential = policy.initialDelayMs * policy.factor ** Math.max(0, attempt - 1);
  const capped = Math.min(policy.maxDelayMs, exponential);
  return Math.round(capped * (1 - policy.jitter * random()));
}
