import { EntryType, type SagaSnapshot, SagaStatus } from "../model/records.js";
import { StepKind } from "../model/step-kind.js";
import { defineInvariant, type Invariant } from "./invariant.js";

/**
 * An invariant that every saga's log is well formed:
 *
 * - entries are numbered 1, 2, 3, … and their fencing tokens never go down;
 * - every outcome (`committed`, `not_committed`, `unknown`) follows an intent of the same step and
 *   attempt (except a co-committed `committed`, which commits with the step's own writes), and every compensation outcome follows a compensation intent of the same step and
 *   attempt;
 * - compensations run in reverse step order, only for compensatable steps that committed, never
 *   after the point of no return committed, and no step starts once compensation has begun; a
 *   null compensation (`compensation_skipped`) is only for a step that did not commit;
 * - the status agrees with the entries: `completed` means every step committed, `compensated`
 *   means none is left committed or unknown.
 *
 * @example
 * ```ts
 * const report = await exploreCrashPoints({ ...scenario, invariants: [logWellFormed()] });
 * ```
 */
export function logWellFormed(): Invariant {
  return defineInvariant("log well-formed", ({ sagas }) => sagas.flatMap(problemsOf), {
    reads: "log",
  });
}

type StepState = "unknown" | "committed" | "not_committed" | "compensated";

function problemsOf({ record, entries }: SagaSnapshot): string[] {
  const problems: string[] = [];
  const saga = `Saga "${record.sagaId}"`;
  const steps = record.definition.steps;
  const index = new Map(steps.map((s, i) => [s.name, i]));
  const pivot = steps.findIndex((s) => s.kind === StepKind.Pivot);
  const firstRetriable = steps.findIndex((s) => s.kind === StepKind.Retriable);
  const lastBackward =
    (pivot >= 0 ? pivot + 1 : firstRetriable >= 0 ? firstRetriable : steps.length) - 1;
  const intents = new Set<string>();
  const compensationIntents = new Set<string>();
  const everCommitted = new Set<string>();
  const state = new Map<string, StepState>();
  let lastCompensated = Number.POSITIVE_INFINITY;
  let compensating = false;
  let token = 0;
  entries.forEach((e, n) => {
    const at = `${saga}, entry ${e.seq} (${e.type} of "${e.step}" attempt ${e.attempt})`;
    if (e.seq !== n + 1) problems.push(`${at} is numbered ${e.seq}, not ${n + 1}.`);
    if (e.token < token)
      problems.push(`${at} carries fencing token ${e.token} after token ${token}.`);
    token = Math.max(token, e.token);
    // An operator's note concerns the saga, not a step; it is checked by its schema alone.
    if (e.type === EntryType.Operator) return;
    const i = index.get(e.step);
    if (i === undefined) {
      problems.push(`${at} names a step the saga's definition does not have.`);
      return;
    }
    const key = `${e.step}#${e.attempt}`;
    switch (e.type) {
      case EntryType.Intent:
        if (compensating) problems.push(`${at} starts a step after compensation began.`);
        intents.add(key);
        state.set(e.step, "unknown");
        break;
      case EntryType.Committed:
      case EntryType.NotCommitted:
      case EntryType.Unknown:
        // A co-committed outcome committed in one transaction with the step's writes: no intent.
        if (e.via === "co_commit") {
          if (compensating) problems.push(`${at} commits a step after compensation began.`);
        } else if (!intents.has(key)) {
          problems.push(`${at} has no intent before it.`);
        }
        if (e.type === EntryType.Committed) everCommitted.add(e.step);
        state.set(e.step, e.type);
        break;
      case EntryType.CompensationIntent:
        compensating = true;
        if (steps[i]?.kind !== StepKind.Compensatable) {
          problems.push(`${at} compensates a ${steps[i]?.kind} step.`);
        }
        if (!everCommitted.has(e.step))
          problems.push(`${at} compensates a step that never committed.`);
        if (
          lastBackward >= 0 &&
          everCommitted.has((steps[lastBackward] as { name: string }).name)
        ) {
          problems.push(`${at} compensates after the point of no return committed.`);
        }
        if (i > lastCompensated) problems.push(`${at} breaks the reverse order of compensation.`);
        lastCompensated = i;
        compensationIntents.add(key);
        break;
      case EntryType.Compensated:
      case EntryType.CompensationFailed:
      case EntryType.GuardFailed:
        if (!compensationIntents.has(key))
          problems.push(`${at} has no compensation intent before it.`);
        if (e.type === EntryType.Compensated) state.set(e.step, "compensated");
        break;
      case EntryType.CompensationSkipped:
        compensating = true;
        if (state.get(e.step) !== "not_committed") {
          problems.push(
            `${at} skips the compensation of a step that is ${state.get(e.step) ?? "not started"}, not not_committed.`,
          );
        }
        break;
      default:
        break;
    }
  });
  if (record.status === SagaStatus.Completed) {
    for (const step of steps) {
      if (state.get(step.name) !== "committed") {
        problems.push(
          `${saga} is completed but step "${step.name}" is ${state.get(step.name) ?? "not started"}.`,
        );
      }
    }
  }
  if (record.status === SagaStatus.Compensated) {
    for (const [step, s] of state) {
      if (s === "committed" || s === "unknown") {
        problems.push(`${saga} is compensated but step "${step}" is ${s}.`);
      }
    }
  }
  return problems;
}
