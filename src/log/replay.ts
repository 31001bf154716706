import { EntryType, type SagaRecord, type StepEntry } from "../model/records.js";

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
  readonly kind: SagaRecord["definition"]["steps"][number]["kind"];
  /** The id of its store, from the recorded definition. */
  readonly store: string;
  /** Whether the step has a probe, from the recorded definition. */
  readonly hasProbe: boolean;
  /**
   * Its status the way a runner rebuilds it from the log (the values of `StepStatus`): an intent
   * without an outcome is `unknown`, as is a committed output that fails the step's schema (when
   * one is given); a step with no entries is `skipped`.
   */
  readonly status: "committed" | "not_committed" | "compensated" | "unknown" | "skipped";
  /** The highest attempt the log records. */
  readonly attempts: number;
  /** Whether an intent or a commit was ever logged, i.e. execute may have started. */
  readonly executed: boolean;
  /**
   * When execute may first have started, in milliseconds since the epoch: the time of the step's
   * first intent (or of its commit, for a step that logs none). What a store's key window counts
   * from.
   */
  readonly firstSentAt: number | undefined;
  /** The output logged with its commit, as written. */
  readonly output: unknown;
  /** How the commit was learned: `execute`, `probe`, or `co_commit` (in its transaction). */
  readonly via: "execute" | "probe" | "co_commit" | undefined;
  /** The error of its last failed outcome (`not_committed` or `unknown`), if one was logged. */
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
  /** The error of its last failed compensation or failed guard, if one was logged. */
  readonly compensationError:
    | {
        /** The error kind (`conflict` for a failed guard). */
        readonly kind: string;
        /** The error's message. */
        readonly message: string;
      }
    | undefined;
}

/**
 * What each entry other than a commit moves, per the rules of {@link replaySteps}: the step's
 * status, its compensation, and the field its error (when it carries one) is kept in. One table
 * keeps the forward and compensation errors from ever landing in each other's field.
 */
const MOVES: Readonly<
  Record<
    Exclude<EntryType, "committed">,
    {
      readonly status?: ReplayedStep["status"];
      readonly compensation?: CompensationState;
      readonly error?: "error" | "compensationError";
    }
  >
> = {
  [EntryType.Intent]: { status: "unknown" },
  [EntryType.NotCommitted]: { status: "not_committed", error: "error" },
  [EntryType.Unknown]: { status: "unknown", error: "error" },
  [EntryType.CompensationIntent]: { compensation: "started" },
  [EntryType.Compensated]: { status: "compensated", compensation: "compensated" },
  [EntryType.CompensationSkipped]: { compensation: "skipped" },
  [EntryType.CompensationFailed]: { compensation: "failed", error: "compensationError" },
  [EntryType.GuardFailed]: { compensation: "guard_failed", error: "compensationError" },
  // An operator's note moves no step; its step name matches none anyway.
  [EntryType.Operator]: {},
};

/** A step's part of a saga definition, as the log records it. */
type LoggedStep = Pick<
  SagaRecord["definition"]["steps"][number],
  "name" | "kind" | "store" | "probe"
>;

/**
 * Rebuilds each step of a saga from its log entries, read in order. This is the one replay of the
 * log: the runner resumes and recovers sagas from it, and the timeline and the diagnosis show it, so
 * what they say a step is always agrees with what the runner will do with it.
 *
 * The rules, entry by entry; an entry for a step the definition does not name is ignored:
 * - `intent`: execute may have started. The step is `executed`, its attempt counted, and `unknown`
 *   until an outcome follows.
 * - `committed`: the step is `committed`, with its output as written and how the commit was learned.
 *   It also counts the attempt and marks the step executed, since a co-committed step logs no
 *   intent. When `parse` is given and rejects the output, the step stays `unknown`: a runner probes
 *   it again rather than hand an output that fails its schema to the steps after it.
 * - `not_committed`: the step is `not_committed`; the entry's error, if any, is the step's error.
 * - `unknown`: the step is `unknown`; the entry's error, if any, is the step's error. A live run
 *   keeps that error too, even after a probe finds the step committed, so a report rebuilt from the
 *   log says what one written live says.
 * - `compensated`: the step is `compensated`.
 * - `compensation_intent`, `compensation_skipped`, `compensation_failed`, `guard_failed`: only the
 *   step's `compensation` moves (`started`, `skipped`, `failed`, `guard_failed`); a failure's error is
 *   its `compensationError`, never its `error`, which stays the error of its forward outcome.
 *
 * An entry without an error never clears an error logged before it.
 *
 * @param definition The saga's definition, as logged with it (or as the saga defines it).
 * @param parse Whether a committed output satisfies its step's schema; without it, every logged
 *   output is taken as it is.
 */
export function replaySteps(
  definition: { readonly steps: readonly LoggedStep[] },
  entries: readonly StepEntry[],
  parse?: (step: string, output: unknown) => boolean,
): ReplayedStep[] {
  const states = definition.steps.map(
    (step): Mutable<ReplayedStep> => ({
      name: step.name,
      kind: step.kind,
      store: step.store,
      hasProbe: step.probe,
      status: "skipped",
      attempts: 0,
      executed: false,
      firstSentAt: undefined,
      output: undefined,
      via: undefined,
      error: undefined,
      compensation: "none",
      compensationError: undefined,
    }),
  );
  const index = new Map(definition.steps.map((s, i) => [s.name, i]));
  for (const entry of entries) {
    const i = index.get(entry.step);
    if (i === undefined) continue;
    const st = states[i] as Mutable<ReplayedStep>;
    if (entry.type === EntryType.Intent || entry.type === EntryType.Committed) {
      // A co-committed step logs no intent, so its commit alone shows that execute ran.
      st.attempts = Math.max(st.attempts, entry.attempt);
      st.executed = true;
      st.firstSentAt ??= entry.at;
    }
    if (entry.type === EntryType.Committed) {
      const valid = parse === undefined || parse(st.name, entry.output);
      st.status = valid ? "committed" : "unknown";
      st.output = entry.output;
      st.via = entry.via;
      continue;
    }
    const move: (typeof MOVES)[keyof typeof MOVES] | undefined = MOVES[entry.type];
    // An entry of a type this replay does not know (written by a newer version) moves nothing.
    if (move === undefined) continue;
    if (move.status !== undefined) st.status = move.status;
    if (move.compensation !== undefined) st.compensation = move.compensation;
    if (move.error !== undefined && entry.error) st[move.error] = entry.error;
  }
  return states;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
