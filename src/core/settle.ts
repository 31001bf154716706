import { ErrorKind } from "../model/error-kind.js";
import { StepKind } from "../model/step-kind.js";
import type { AttemptResult } from "./attempt-outcome.js";
import { closeEarlierAttempt, type ProbeOutcome } from "./close-attempt.js";
import { callWithDeadline } from "./deadline.js";
import type { ExecutionState } from "./execution-state.js";
import { messageOf } from "./message-of.js";
import { StepStatus } from "./report.js";
import { checkCommit } from "./step-messages.js";

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
      const checked = checkCommit(state, i, value.output);
      result = checked.ok
        ? {
            status: "committed",
            raw: value.output,
            output: checked.output,
            messages: checked.messages,
          }
        : { status: "invalid", message: checked.message };
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
  verdict: (probe: () => Promise<ProbeOutcome>) => Promise<ProbeOutcome> = (probe) => probe(),
): Promise<AttemptResult | undefined> {
  const probe = await verdict(() => probeStep(state, i, attempt));
  if (probe.status === "invalid") return { type: "invalid_output", message: probe.message };
  if (probe.status === "committed") {
    state.commit(i, attempt, probe.raw, probe.output, "probe", probe.messages);
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
    async (probe) => {
      const result = await probe();
      // Not found is proof only once the earlier attempt is closed: it may still land otherwise.
      if (result.status !== "not_committed") return result;
      if ((await closeEarlierAttempt(state, i)) === "open") return { status: "unknown" };
      // A horizon waited out after the read: the write may have landed meanwhile, so read again.
      return state.stepAt(i).store.fence?.mode === "landing_horizon" ? probe() : result;
    },
  );
  if (probed !== undefined) return probed;
  if (step.probe === undefined && step.kind === StepKind.Retriable) {
    st.status = StepStatus.NotCommitted;
    return { type: "not_committed", kind: ErrorKind.Unknown, error: undefined };
  }
  return { type: "in_doubt" };
}
