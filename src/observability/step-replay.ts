import { StepStatus } from "../core/report.js";
import type { SagaDefinitionData } from "../core/saga.js";
import { EntryType, type StepEntry } from "../model/records.js";
import type { StepKind } from "../model/step-kind.js";

/** Where a step's compensation stands, as its log entries tell it. */
export type CompensationState =
  | "none"
  | "started"
  | "compensated"
  | "skipped"
  | "failed"
  | "guard_failed";

/** One step as the log tells it, after replaying its entries in order. */
export interface ReplayedStep {
  /** The step's name. */
  readonly name: string;
  /** Its kind, from the definition recorded with the saga. */
  readonly kind: StepKind;
  /** The id of its store, from the recorded definition. */
  readonly store: string;
  /** Whether the step has a probe, from the recorded definition. */
  readonly hasProbe: boolean;
  /**
   * Its status the way a runner rebuilds it from the log: an intent without an outcome is
   * `unknown`, as is a committed output that fails the step's schema (when one is given).
   */
  readonly status: StepStatus;
  /** The highest attempt the log records. */
  readonly attempts: number;
  /** Whether an intent was ever logged, i.e. execute may have started. */
  readonly executed: boolean;
  /** The output logged with its commit, as written. */
  readonly output: unknown;
  /** How the commit was learned: `execute`, `probe`, or `co_commit` (in its transaction). */
  readonly via: "execute" | "probe" | "co_commit" | undefined;
  /** The last error logged for it. */
  readonly error:
    | {
        /** The error kind (`not_committed`, `conflict`, `transient`, `unknown`, `timeout`). */
        readonly kind: string;
        /** The error's message. */
        readonly message: string;
      }
    | undefined;
  /** Where its compensation stands. */
  readonly compensation: CompensationState;
}

/**
 * Rebuilds each step's state from a saga's log entries, the same way the runner does when it
 * resumes a saga. `parse`, when given, validates a committed output against the step's schema; an
 * output that fails it leaves the step `unknown`, as the runner would.
 */
export function replaySteps(
  definition: SagaDefinitionData,
  entries: readonly StepEntry[],
  parse?: (step: string, output: unknown) => boolean,
): ReplayedStep[] {
  const states = definition.steps.map((step) => ({
    name: step.name,
    kind: step.kind,
    store: step.store,
    hasProbe: step.probe,
    status: StepStatus.Skipped as StepStatus,
    attempts: 0,
    executed: false,
    output: undefined as unknown,
    via: undefined as ReplayedStep["via"],
    error: undefined as ReplayedStep["error"],
    compensation: "none" as CompensationState,
  }));
  const index = new Map(definition.steps.map((s, i) => [s.name, i]));
  for (const entry of entries) {
    const i = index.get(entry.step);
    if (i === undefined) continue;
    const st = states[i] as (typeof states)[number];
    switch (entry.type) {
      case EntryType.Intent:
        st.attempts = Math.max(st.attempts, entry.attempt);
        st.executed = true;
        st.status = StepStatus.Unknown;
        break;
      case EntryType.Committed: {
        // A co-committed step has no intent: its outcome committed with its writes.
        st.attempts = Math.max(st.attempts, entry.attempt);
        st.executed = true;
        const valid = parse === undefined || parse(st.name, entry.output);
        st.status = valid ? StepStatus.Committed : StepStatus.Unknown;
        st.output = entry.output;
        st.via = entry.via;
        break;
      }
      case EntryType.NotCommitted:
        st.status = StepStatus.NotCommitted;
        if (entry.error) st.error = entry.error;
        break;
      case EntryType.Unknown:
        st.status = StepStatus.Unknown;
        if (entry.error) st.error = entry.error;
        break;
      case EntryType.CompensationIntent:
        st.compensation = "started";
        break;
      case EntryType.Compensated:
        st.status = StepStatus.Compensated;
        st.compensation = "compensated";
        break;
      case EntryType.CompensationSkipped:
        st.compensation = "skipped";
        break;
      case EntryType.CompensationFailed:
        st.compensation = "failed";
        if (entry.error) st.error = entry.error;
        break;
      case EntryType.GuardFailed:
        st.compensation = "guard_failed";
        if (entry.error) st.error = entry.error;
        break;
    }
  }
  return states;
}
