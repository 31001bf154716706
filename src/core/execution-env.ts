import type { SagaLog } from "../log/saga-log.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import type { Clock } from "./clock.js";
import type { EventListener, Logger, SagaEvent } from "./events.js";
import { messageOf } from "./message-of.js";
import type { RetryPolicy } from "./retry.js";
import { describeValue } from "./validate.js";

/**
 * Everything an execution needs from its runner, its options resolved: the runner builds it once,
 * and its recoverer drives sagas with the same one.
 */
export interface ExecutionEnv {
  /** The log sagas are recorded to. */
  readonly log: SagaLog;
  /** The clock of deadlines, backoff and leases. */
  readonly clock: Clock;
  /** The runner's name in lease records. */
  readonly owner: string;
  /** How long a lease lasts without renewal, in milliseconds. */
  readonly leaseTtlMs: number;
  /** Deadline of each call into step code that sets none, and of each log call, in milliseconds. */
  readonly timeoutMs: number;
  /** Retry policy of steps that set none. */
  readonly retry: RetryPolicy;
  /** Source of randomness for backoff jitter. */
  readonly random: () => number;
  /** Receives every saga event. */
  readonly onEvent: EventListener | undefined;
  /** Receives diagnostics. */
  readonly logger: Logger | undefined;
}

/** Tells the runner's listener of `event`; a listener that throws is logged, never let through. */
export function emitEvent(env: ExecutionEnv, event: SagaEvent): void {
  try {
    env.onEvent?.(event);
  } catch (error) {
    env.logger?.error(
      { sagaId: event.sagaId, error: messageOf(error) },
      "lockstep: an event listener threw",
    );
  }
}

/**
 * Where a runner keeps its environment: a property under a symbol the public `Runner` type does not
 * declare, so it is no part of the API. Registered (`Symbol.for`) so that a recoverer from the CJS
 * copy of the package finds the environment of a runner from the ESM copy, and the reverse.
 */
const EXECUTION_ENV = Symbol.for("lockstep.execution-env");

/** Gives `runner` its environment, out of sight of its public members; call it before freezing. */
export function attachExecutionEnv<T extends object>(runner: T, env: ExecutionEnv): T {
  return Object.defineProperty(runner, EXECUTION_ENV, { value: env });
}

/** The environment of a runner made by `createRunner`; throws for anything else. */
export function executionEnvOf(runner: unknown): ExecutionEnv {
  const env =
    typeof runner === "object" && runner !== null
      ? (runner as { readonly [EXECUTION_ENV]?: ExecutionEnv })[EXECUTION_ENV]
      : undefined;
  if (env === undefined) {
    throw new LockstepDefinitionError(
      `Expected \`runner\` to be a runner made by createRunner, got ${describeValue(runner)}.`,
    );
  }
  return env;
}
