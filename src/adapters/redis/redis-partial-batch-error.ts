import { StoreError } from "../../core/error-kinds.js";
import { ErrorKind } from "../../model/error-kind.js";

/**
 * Redis raised an error while a batch was being written, after its checks had passed — which Redis
 * does not undo. The writes before `index` were applied; write `index` and those after it were not.
 * Its kind is `unknown` because the batch is neither applied nor absent: probe before compensating.
 *
 * lockstep checks every guard, key type and integer range before the first write of a batch, so
 * this takes a failure Redis itself raises mid-batch (e.g. running out of memory between writes).
 *
 * @example
 * ```ts
 * if (error instanceof RedisPartialBatchError) log.warn(`${error.applied} writes landed before #${error.index} failed`);
 * ```
 */
export class RedisPartialBatchError extends StoreError {
  /** The position of the write Redis failed; the writes before it were applied. */
  declare readonly index: number;
  /** How many writes, from the first, were applied: equal to `index`. */
  readonly applied: number;

  constructor(index: number, message: string) {
    super(
      ErrorKind.Unknown,
      `Redis failed batch write #${index} after the ${index} write(s) before it were applied (${message}); the batch is partly applied.`,
      { index },
    );
    this.name = "RedisPartialBatchError";
    this.applied = index;
  }
}
