import { StepStatus } from "../core/report.js";
import type { Saga } from "../core/saga.js";
import type { StepDefinition } from "../core/step.js";
import { SagaStatus } from "../model/records.js";
import { StepKind } from "../model/step-kind.js";

/** What recovery will do with a saga, as a diagnosis predicts it. */
export const RecoveryAction = {
  /** Run the steps that have not committed, forward, past the point of no return. */
  RollForward: "roll_forward",
  /** Undo the committed compensatable steps, in reverse. */
  Compensate: "compensate",
  /** Probe again later: a step's outcome cannot be told, and it is never undone without a probe. */
  StayInDoubt: "stay_in_doubt",
  /** End the saga `needs_attention` (its definition is missing or differs, its record is unusable). */
  MarkNeedsAttention: "mark_needs_attention",
  /** Quarantine the saga: its log record fails validation. */
  Quarantine: "quarantine",
  /** Nothing: the saga is finished, waits for a person, or is not among the sagas recovery was given. */
  LeaveAlone: "leave_alone",
  /** Cannot be predicted without the saga's definition. */
  Unknown: "unknown",
} as const;

/** One of the values of {@link RecoveryAction}. */
export type RecoveryAction = (typeof RecoveryAction)[keyof typeof RecoveryAction];

/** What a probe said about a step whose logged outcome is unknown. */
export type ProbeFinding =
  | "committed"
  | "not_committed"
  | "cannot_tell"
  | "failed"
  | "invalid_output";

/** What recovery will do, and to which steps, in the order it will. */
export interface RecoveryForecast {
  readonly action: RecoveryAction;
  /** The steps it will run (roll forward) or undo (compensate), or the step it stops at. */
  readonly steps: readonly string[];
  /** The same, in words. */
  readonly description: string;
}

/** A step's state after its probe, as the forecast reads it. */
export interface ForecastStep {
  readonly status: StepStatus;
  readonly executed: boolean;
  readonly probe: ProbeFinding | undefined;
}

/**
 * Predicts what one recovery pass does with a non-terminal saga, following the runner's rules:
 * a compensating saga keeps compensating; otherwise an unknown pivot is settled by its probe; past
 * the pivot (or with the `roll_forward` policy) the saga moves forward, else it is compensated; and
 * an unknown step is never compensated without a probe.
 */
export function forecastRecovery(
  // biome-ignore lint/suspicious/noExplicitAny: any saga.
  saga: Saga<any, any>,
  status: SagaStatus,
  steps: readonly ForecastStep[],
): RecoveryForecast {
  const defs = saga.steps as readonly StepDefinition[];
  const at = (i: number) => steps[i] as ForecastStep;
  const name = (i: number) => (defs[i] as StepDefinition).name;
  if (status === SagaStatus.Compensating) return compensate(defs, steps);
  const pivot = saga.forwardFrom - 1;
  if (pivot >= 0 && at(pivot).status === StepStatus.Unknown) {
    const stuck = unresolved(defs, steps, pivot);
    if (stuck !== undefined) return stuck;
  }
  const pastPivot = saga.forwardFrom === 0 || at(pivot).status === StepStatus.Committed;
  if (!pastPivot && saga.recovery !== "roll_forward") return compensate(defs, steps);
  const run: string[] = [];
  for (let i = 0; i < defs.length; i++) {
    if (at(i).status === StepStatus.Committed) continue;
    const stuck = stopsAt(defs, steps, i, "running", run);
    if (stuck !== undefined) return stuck;
    run.push(name(i));
  }
  if (run.length === 0) {
    return {
      action: RecoveryAction.RollForward,
      steps: [],
      description: "Recovery will mark it completed: every step has committed.",
    };
  }
  return {
    action: RecoveryAction.RollForward,
    steps: run,
    description: `Recovery will roll it forward: run ${quote(run)}, each with its own idempotency key.`,
  };
}

/** The forecast for an unknown step the runner cannot settle, or `undefined` if it can. */
function unresolved(
  defs: readonly StepDefinition[],
  steps: readonly ForecastStep[],
  i: number,
): RecoveryForecast | undefined {
  const def = defs[i] as StepDefinition;
  const st = steps[i] as ForecastStep;
  if (st.status !== StepStatus.Unknown) return undefined;
  if (def.probe === undefined && def.kind === StepKind.Retriable) return undefined;
  if (st.probe === "invalid_output") {
    return {
      action: RecoveryAction.MarkNeedsAttention,
      steps: [def.name],
      description: `Recovery will end it needs_attention (invalid_output): the probe of step "${def.name}" returns an output that fails the step's schema or that the saga log cannot store.`,
    };
  }
  return {
    action: RecoveryAction.StayInDoubt,
    steps: [def.name],
    description: `Recovery will leave it in doubt: the probe of step "${def.name}" ${st.probe === "failed" ? "fails" : "cannot tell"}, and a step is never undone or skipped without a probe. It probes again on every attempt, and ends it needs_attention (in_doubt_exhausted) after its last.`,
  };
}

/**
 * The forecast that stops at step `i` because the runner cannot settle it, naming the steps it
 * gets through before it (`done`, which it is `doing`); `undefined` when step `i` does not stop it.
 */
function stopsAt(
  defs: readonly StepDefinition[],
  steps: readonly ForecastStep[],
  i: number,
  doing: "running" | "undoing",
  done: readonly string[],
): RecoveryForecast | undefined {
  const stuck = unresolved(defs, steps, i);
  if (stuck === undefined || done.length === 0) return stuck;
  return { ...stuck, description: `${stuck.description} (after ${doing} ${quote(done)})` };
}

function compensate(
  defs: readonly StepDefinition[],
  steps: readonly ForecastStep[],
): RecoveryForecast {
  const undo: string[] = [];
  for (let j = defs.length - 1; j >= 0; j--) {
    const def = defs[j] as StepDefinition;
    const st = steps[j] as ForecastStep;
    const stuck = stopsAt(defs, steps, j, "undoing", undo);
    if (stuck !== undefined) return stuck;
    if (st.status === StepStatus.Committed && def.kind === StepKind.Compensatable) {
      undo.push(def.name);
    }
  }
  if (undo.length === 0) {
    return {
      action: RecoveryAction.Compensate,
      steps: [],
      description:
        "Recovery will mark it compensated: nothing it wrote is in place, so nothing needs undoing.",
    };
  }
  return {
    action: RecoveryAction.Compensate,
    steps: undo,
    description:
      undo.length === 1
        ? `Recovery will compensate it: undo ${quote(undo)} behind its guard.`
        : `Recovery will compensate it: undo ${quote(undo)}, in that order, each behind its guard.`,
  };
}

function quote(names: readonly string[]): string {
  return names.map((n) => `"${n}"`).join(", ");
}
