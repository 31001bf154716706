import { ErrorKind } from "../model/error-kind.js";
import { StepKind } from "../model/step-kind.js";
import type { AttemptResult } from "./attempt-outcome.js";
import type { ExecutionState } from "./execution-state.js";
import { probeStep } from "./settle.js";

/**
 * Reads retriable step `i` back after `attempt` failed with `kind`, when that failure was a lost
 * compare-and-set. A `conflict` proves that this attempt's write did not apply, not that the step's
 * effect is absent: the same change may have been made by another run of the same request (a client
 * retrying a settlement under a new saga id while the reconciler finishes the first). A retriable
 * step with a probe asks it at once; what it finds committed is the step's commit, learned by the
 * probe, so the saga goes on instead of reporting work that is done as incomplete.
 *
 * `undefined` for any other kind, for a step without a probe, and when the probe does not find the
 * effect (or cannot tell): the conflict then stands as the step's outcome. Compensatable and pivot
 * steps keep their conflict as it is: before the point of no return a conflict is a definitive
 * refusal that unwinds the saga (and `runAtomic` reports it as the conflict of a guarded write).
 */
export async function readBackConflict(
  state: ExecutionState,
  i: number,
  attempt: number,
  kind: ErrorKind,
): Promise<AttemptResult | undefined> {
  const step = state.stepAt(i);
  if (kind !== ErrorKind.Conflict || step.kind !== StepKind.Retriable) return undefined;
  if (step.probe === undefined) return undefined;
  const probe = await probeStep(state, i, attempt);
  if (probe.status === "invalid") return { type: "invalid_output", message: probe.message };
  if (probe.status !== "committed") return undefined;
  state.commit(i, attempt, probe.raw, probe.output, "probe", probe.messages);
  return { type: "committed" };
}
