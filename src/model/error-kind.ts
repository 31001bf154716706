/**
 * The kinds every store error is normalized into at the adapter boundary.
 *
 * Three of them mean the write was provably not applied; two mean it may have been. The runner never
 * compensates a step whose error kind may have applied without first probing it.
 */
export const ErrorKind = {
  /** Provably not applied and not worth retrying: a constraint violation, a rejected request. */
  NotCommitted: "not_committed",
  /** Provably not applied because a guard or compare-and-set lost to another writer. */
  Conflict: "conflict",
  /** Provably not applied, and a retry may succeed: serialization failure, busy, refused before send. */
  Transient: "transient",
  /** May have been applied: a connection lost during or after commit, an unclassified failure. */
  Unknown: "unknown",
  /** The call outlived its deadline; it may have been applied. */
  Timeout: "timeout",
} as const;

/** One of the values of {@link ErrorKind}. */
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

/** Every error kind, in a stable order. */
export const ERROR_KINDS: readonly ErrorKind[] = Object.freeze(Object.values(ErrorKind));

/** Whether an error of this kind proves that the write was not applied. */
export function isProvablyNotApplied(kind: ErrorKind): boolean {
  return (
    kind === ErrorKind.NotCommitted || kind === ErrorKind.Conflict || kind === ErrorKind.Transient
  );
}
