/**
 * The kinds of step, after Garcia-Molina and Salem: compensatable steps first, then at most one pivot
 * (the point of no return), then retriable steps. After the pivot commits, the saga only moves forward.
 */
export const StepKind = {
  /** Can be undone by its `compensate`, which must be idempotent and guarded. */
  Compensatable: "compensatable",
  /** The point of no return: once committed, the saga never compensates. */
  Pivot: "pivot",
  /** Runs after the pivot and is retried until it commits; must be idempotent by its key. */
  Retriable: "retriable",
} as const;

/** One of the values of {@link StepKind}. */
export type StepKind = (typeof StepKind)[keyof typeof StepKind];
