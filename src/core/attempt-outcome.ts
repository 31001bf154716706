import { ErrorKind } from "../model/error-kind.js";
import { sleep } from "./clock.js";
import type { CallOutcome } from "./deadline.js";
import { classifyError } from "./error-kinds.js";
import type { ExecutionState } from "./execution-state.js";
import { backoffDelay } from "./retry.js";
import { EscalationError, type StepDefinition } from "./step.js";

/** How an attempt ended; `at` names the failing step of a co-committed group. */
export type AttemptResult = (
  | { readonly type: "committed" }
  | { readonly type: "not_committed"; readonly kind: ErrorKind; readonly error: unknown }
  | { readonly type: "in_doubt" }
  | { readonly type: "cancelled"; readonly reason: unknown }
  | { readonly type: "invalid_output"; readonly message: string }
  | { readonly type: "escalated"; readonly message: string }
) & { readonly at?: number };

/** The error kind of a call into `step`'s code that did not return, and the error to report. */
export function failureOf(
  step: StepDefinition,
  outcome: Exclude<CallOutcome<unknown>, { status: "ok" }>,
): { kind: ErrorKind; error: unknown } {
  if (outcome.status === "error") {
    return { kind: classifyError(outcome.error, step.store.classifyError), error: outcome.error };
  }
  if (outcome.status === "timeout") {
    return {
      kind: ErrorKind.Timeout,
      error: new Error(`Step "${step.name}" did not finish within its deadline.`),
    };
  }
  // Cancelled mid-call: the write may or may not have landed.
  return {
    kind: ErrorKind.Unknown,
    error: new Error(`Step "${step.name}" was cancelled while running.`),
  };
}

/**
 * After a failed attempt of step `i` (its state counts the attempt): the result to stop with when
 * the run was cancelled or the step's policy allows no retry, or `undefined` once the backoff before
 * the next attempt has passed.
 */
export async function retryAfter(
  state: ExecutionState,
  i: number,
  kind: ErrorKind,
  error: unknown,
  signal: AbortSignal | undefined,
): Promise<AttemptResult | undefined> {
  const policy = state.policies[i] as (typeof state.policies)[number];
  const attempt = state.stateAt(i).attempts;
  if (signal?.aborted) return { type: "cancelled", reason: signal.reason, at: i };
  if (attempt >= policy.attempts || !policy.retryOn.includes(kind)) {
    return { type: "not_committed", kind, error, at: i };
  }
  const delayMs = backoffDelay(policy, attempt, state.env.random);
  state.emit({ type: "step.retrying", step: state.stepAt(i).name, attempt, delayMs });
  try {
    await sleep(state.env.clock, delayMs, signal);
  } catch {
    return { type: "cancelled", reason: signal?.reason, at: i };
  }
  return undefined;
}

/**
 * The first error of `error`'s cause chain that passes `test`: a transaction wraps what its work
 * threw, so an escalation or a log refusal inside one arrives as some error's cause.
 */
export function findCause<T>(error: unknown, test: (value: unknown) => value is T): T | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 16 && current !== undefined && current !== null; depth++) {
    if (test(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The escalation anywhere in an error's cause chain. */
export function findEscalation(error: unknown): EscalationError | undefined {
  return findCause(error, EscalationError.is);
}

/** Whether an error kind says the write will never be accepted as it is, so retrying is pointless. */
export function isDefinitiveRefusal(kind: ErrorKind): boolean {
  return kind === ErrorKind.NotCommitted || kind === ErrorKind.Conflict;
}

/** The first issue of a failed schema check, with its path. */
export function zodMessage(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}): string {
  const issue = error.issues[0];
  if (issue === undefined) return "invalid";
  const path = issue.path.map(String).join(".");
  return path === "" ? issue.message : `\`${path}\`: ${issue.message}`;
}
