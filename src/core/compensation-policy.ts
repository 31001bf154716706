import { LockstepDefinitionError } from "../model/definition-error.js";
import { type RetryPolicy, resolveRetry } from "./retry.js";
import { assertDuration, describeValue } from "./validate.js";

/**
 * How a compensation is retried: attempts and backoff, as in {@link RetryPolicy}. There is no
 * `retryOn`: a compensation retries every failure until its attempts run out, and after that the
 * saga stays `compensating` for the recoverer to try again.
 */
export type CompensationRetry = Omit<RetryPolicy, "retryOn">;

/**
 * How a step's compensation is retried and how long each of its calls may take, apart from the
 * step's execute: an undo often talks to another service than the write, and may deserve more
 * patience. Set it per step (`compensation` of the step) or for every step of a runner
 * (`compensation` of `createRunner`). Each value left unset falls back, one by one: the step's
 * compensation policy, then the runner's, then the step's own `retry` and `timeoutMs`, then the
 * runner's `retry` and `timeoutMs`. Without any compensation policy a compensation is therefore
 * retried and timed exactly like its step's execute.
 *
 * @example
 * ```ts
 * const policy: CompensationPolicy = {
 *   retry: { attempts: 8, initialDelayMs: 200, maxDelayMs: 30_000 },
 *   timeoutMs: 20_000,
 * };
 * ```
 */
export interface CompensationPolicy {
  /**
   * Attempts and backoff of the compensation within one run, merged over the step's `retry`.
   * @default the step's `retry` merged over the runner's: 3 attempts, 50 ms doubling to 5000 ms, jitter 0.5
   * @example { attempts: 8, initialDelayMs: 200 }
   */
  readonly retry?: Partial<CompensationRetry>;
  /**
   * Deadline of each compensation call, in milliseconds: an integer from 1 to 2^31 − 1.
   * @default the step's `timeoutMs`, else the runner's (10000)
   * @example 20_000
   */
  readonly timeoutMs?: number;
}

/** A compensation's retry and deadline with every value filled in, as a run uses them. */
export interface ResolvedCompensationPolicy {
  /** Attempts and backoff; its `retryOn` is not consulted. */
  readonly retry: RetryPolicy;
  /** Deadline of each call, in milliseconds. */
  readonly timeoutMs: number;
}

const FIELDS: readonly string[] = ["retry", "timeoutMs"];

/**
 * Validates a compensation policy with the helpers every other option goes through, naming the bad
 * value: `name` is how the messages name the policy (`compensation`, or `step "x" of saga "y":
 * compensation`). Returns it as given.
 */
export function checkCompensationPolicy(name: string, value: unknown): CompensationPolicy {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new LockstepDefinitionError(
      `Expected \`${name}\` to be an object with \`retry\` and \`timeoutMs\`, each optional, got ${describeValue(value)}.`,
    );
  }
  const unknown = Object.keys(value).find((key) => !FIELDS.includes(key));
  if (unknown !== undefined) {
    throw new LockstepDefinitionError(
      `Expected \`${name}\` to have only \`retry\` and \`timeoutMs\`, got \`${unknown}\`.`,
    );
  }
  const policy = value as CompensationPolicy;
  if (policy.retry !== undefined) {
    if (typeof policy.retry === "object" && policy.retry !== null && "retryOn" in policy.retry) {
      throw new LockstepDefinitionError(
        `\`${name}.retry.retryOn\` is set, but a compensation retries every failure until its attempts run out; remove it.`,
      );
    }
    resolveRetry(`${name}.retry`, policy.retry);
  }
  if (policy.timeoutMs !== undefined) assertDuration(`${name}.timeoutMs`, policy.timeoutMs);
  return policy;
}

/**
 * The retry and deadline of a step's compensation: its own compensation policy, then the runner's,
 * then the step's `retry` (already merged over the runner's, as `stepRetry`) and `timeoutMs`, then
 * the runner's `timeoutMs`, value by value.
 */
export function resolveCompensationPolicy(
  step: {
    readonly name: string;
    readonly timeoutMs: number | undefined;
    readonly compensation: CompensationPolicy | undefined;
  },
  stepRetry: RetryPolicy,
  runner: { readonly timeoutMs: number; readonly compensation?: CompensationPolicy | undefined },
): ResolvedCompensationPolicy {
  const retry = resolveRetry(
    `step "${step.name}": compensation.retry`,
    { ...runner.compensation?.retry, ...step.compensation?.retry },
    stepRetry,
  );
  const timeoutMs =
    step.compensation?.timeoutMs ??
    runner.compensation?.timeoutMs ??
    step.timeoutMs ??
    runner.timeoutMs;
  return Object.freeze({ retry, timeoutMs });
}
