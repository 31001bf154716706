import { ErrorKind } from "../model/error-kind.js";
import type { AtomicStrategy } from "./atomic-write.js";
import { StoreError } from "./error-kinds.js";
import { type AtomicError, ErrorCode, lockstepError } from "./errors.js";
import { clauseOf } from "./message-of.js";

/**
 * The `conflict` error of a guarded write that affected nothing. Nothing else remains applied,
 * unless `applied` names writes: a batch whose store was not given the guard to enforce (the write
 * itself does not carry it) applies the rest of the batch all the same.
 */
export function conflict(
  store: string,
  index: number,
  write: string,
  strategy: AtomicStrategy,
  applied: readonly string[] = [],
): AtomicError {
  const rest =
    applied.length === 0
      ? `Nothing of the ${strategy === "sequential" ? "work" : strategy} was applied.`
      : `Yet the ${strategy} was applied: store "${store}" was not given that guard to enforce, so ${applied.map((name) => `"${name}"`).join(", ")} ${applied.length === 1 ? "is" : "are"} applied. Express the guard in the write itself (the store's own guarded write) so that a lost guard applies nothing.`;
  return lockstepError({
    code: ErrorCode.Conflict,
    message: `Guarded write "${write}" (#${index}) on store "${store}" affected nothing: another writer changed its target first. ${rest}`,
    store,
    index,
    write,
    applied,
  });
}

/**
 * The `write_failed` error of a write that failed. `undone` says that nothing of the work remains
 * applied, as the sequential strategy knows once every undo landed; otherwise the kind decides: an
 * outcome that may have applied leaves the caller to check the store.
 */
export function failed(
  store: string,
  index: number,
  write: string,
  kind: ErrorKind,
  cause: unknown,
  undone = false,
): AtomicError {
  const applied =
    !undone && (kind === ErrorKind.Unknown || kind === ErrorKind.Timeout)
      ? "It may have been applied: check the store before retrying."
      : "Nothing of the work was applied.";
  return lockstepError({
    code: ErrorCode.WriteFailed,
    message: `Write "${write}" (#${index}) on store "${store}" failed (${kind}): ${clauseOf(cause)}. ${applied}`,
    store,
    index,
    write,
    kind,
    cause,
  });
}

/** The error a lost guard becomes inside runAtomic: a conflict carrying the write's position. */
export function guardLost(index: number): StoreError {
  return new StoreError("conflict", `Guarded write #${index} affected nothing.`, { index });
}

/** The position of the write whose guard was lost, found on the `cause` chain of `error`. */
export function findGuardLost(error: unknown): { index: number } | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 16 && current !== undefined && current !== null; depth++) {
    if (
      StoreError.is(current) &&
      current.kind === ErrorKind.Conflict &&
      current.index !== undefined
    ) {
      return { index: current.index };
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The name of the write at `index`, for messages. */
export function nameAt(writes: readonly { name: string }[], index: number): string {
  return writes[index]?.name ?? `#${index}`;
}
