/** Why a saga ended in `needs_attention`. */
export const AttentionReason = {
  /** A compensation's guard found state written by someone else, so it undid nothing. */
  GuardFailed: "guard_failed",
  /** A compensation kept failing until its attempts ran out. */
  CompensationFailed: "compensation_failed",
  /** A step after the pivot kept failing until its attempts ran out. */
  ForwardFailed: "forward_failed",
  /** A step's output (from execute or probe) failed its schema. */
  InvalidOutput: "invalid_output",
  /** A log record failed validation. */
  CorruptRecord: "corrupt_record",
  /** The log's saga does not match the definition it is being recovered with. */
  DefinitionMismatch: "definition_mismatch",
  /** A step stayed in doubt after every probe the recoverer was allowed. */
  InDoubtExhausted: "in_doubt_exhausted",
  /** A step found the world in a state only a person can resolve, and escalated. */
  Escalated: "escalated",
  /**
   * A step's idempotency key outlived its store's key window, so sending it again could apply the
   * write twice, and its probe could not tell whether the write landed. The saga is parked
   * `in_doubt` with this reason; a probe that can answer (a query by the provider's metadata)
   * settles it on the recoverer's next pass.
   */
  IdempotencyWindowExpired: "idempotency_window_expired",
} as const;

/** One of the values of {@link AttentionReason}. */
export type AttentionReason = (typeof AttentionReason)[keyof typeof AttentionReason];
