import { ErrorKind } from "../model/error-kind.js";
import { StepKind } from "../model/step-kind.js";
import { type AttemptResult, zodMessage } from "./attempt-outcome.js";
import { callWithDeadline } from "./deadline.js";
import type { ExecutionState } from "./execution-state.js";
import { messageOf } from "./message-of.js";
import { StepStatus } from "./report.js";

/** What a step's probe said. */
export type ProbeOutcome =
  | { readonly status: "committed"; readonly raw: unknown; readonly output: unknown }
  | { readonly status: "not_committed" }
  | { readonly status: "unknown" }
  | { readonly status: "invalid"; readonly message: string };

/**
 * Asks step `i`'s probe whether `attempt` committed, with the probe's deadline. A step without a
 * probe, a probe that fails or times out, and a probe that cannot tell all say `unknown`; a commit
 * whose output fails the step's schema is `invalid`.
 */
export async function probeStep(
  state: ExecutionState,
  i: number,
  attempt: number,
): Promise<ProbeOutcome> {
  const step = state.stepAt(i);
  const probe = step.probe;
  if (probe === undefined) return { status: "unknown" };
  const outcome = await callWithDeadline(
    state.env.clock,
    step.probeTimeoutMs ?? step.timeoutMs ?? state.env.timeoutMs,
    undefined,
    (scope) => probe(state.context(i, attempt, scope)),
  );
  let result: ProbeOutcome = { status: "unknown" };
  if (outcome.status === "ok") {
    const value = outcome.value as { status?: unknown; output?: unknown } | undefined;
    if (value?.status === "committed") {
      const parsed = step.output.safeParse(value.output);
      result = parsed.success
        ? { status: "committed", raw: value.output, output: parsed.data }
        : { status: "invalid", message: zodMessage(parsed.error) };
    } else if (value?.status === "not_committed") {
      result = { status: "not_committed" };
    }
  } else if (outcome.status === "error") {
    state.env.logger?.warn(
      { sagaId: state.sagaId, step: step.name, error: messageOf(outcome.error) },
      "lockstep: a probe failed; the step stays in doubt",
    );
  }
  state.emit({
    type: "step.probed",
    step: step.name,
    result: result.status === "invalid" ? "committed" : result.status,
  });
  return result;
}

/**
 * Asks step `i`'s probe whether `attempt` committed, and records what it learns: the commit, or,
 * when the probe says it did not, the failure (`kind`, `error`) that made the probe necessary.
 * `undefined` when the probe cannot tell.
 */
export async function probeAndRecord(
  state: ExecutionState,
  i: number,
  attempt: number,
  kind: ErrorKind,
  error: unknown,
): Promise<AttemptResult | undefined> {
  const probe = await probeStep(state, i, attempt);
  if (probe.status === "invalid") return { type: "invalid_output", message: probe.message };
  if (probe.status === "committed") {
    state.commit(i, attempt, probe.raw, probe.output, "probe");
    return { type: "committed" };
  }
  if (probe.status === "not_committed") {
    state.notCommitted(i, attempt, kind, error);
    return { type: "not_committed", kind, error };
  }
  return undefined;
}

/**
 * Settles step `i`, left `unknown` by a crash or an earlier run, before anything else is done to
 * the saga: by its probe, or, for a retriable step without one, by treating it as not run, since it
 * is executed again with its key. `in_doubt` when neither can settle it.
 */
export async function settleUnknown(state: ExecutionState, i: number): Promise<AttemptResult> {
  const step = state.stepAt(i);
  const st = state.stateAt(i);
  const probed = await probeAndRecord(
    state,
    i,
    Math.max(1, st.attempts),
    ErrorKind.Unknown,
    undefined,
  );
  if (probed !== undefined) return probed;
  if (step.probe === undefined && step.kind === StepKind.Retriable) {
    st.status = StepStatus.NotCommitted;
    return { type: "not_committed", kind: ErrorKind.Unknown, error: undefined };
  }
  return { type: "in_doubt" };
}
