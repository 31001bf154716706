import { hasBrand } from "../model/brand.js";
import { ERROR_KINDS, ErrorKind } from "../model/error-kind.js";

const ERROR_VALUE_BRAND = Symbol.for("lockstep.error");

/**
 * The kind of a lockstep error value (from `runAtomic` or a nested saga) thrown inside a step, so
 * that composing lockstep operations keeps their outcome: a lost guard stays a conflict, a failure
 * before any write stays not committed, anything that may have landed stays unknown.
 */
function kindOfErrorValue(value: object): ErrorKind | undefined {
  if ((value as Record<symbol, unknown>)[ERROR_VALUE_BRAND] !== true) return undefined;
  const error = value as { code?: unknown; kind?: unknown; report?: { status?: unknown } };
  switch (error.code) {
    case "conflict":
      return ErrorKind.Conflict;
    case "write_failed":
      return typeof error.kind === "string" &&
        (ERROR_KINDS as readonly string[]).includes(error.kind)
        ? (error.kind as ErrorKind)
        : ErrorKind.Unknown;
    case "atomicity_unavailable":
    case "capability_missing":
    case "invalid_options":
    case "invalid_input":
    case "saga_exists":
      return ErrorKind.NotCommitted;
    case "step_failed":
    case "cancelled":
      return error.report?.status === "compensated" ? ErrorKind.NotCommitted : ErrorKind.Unknown;
    default:
      return ErrorKind.Unknown;
  }
}

const STORE_ERROR_BRAND = Symbol.for("lockstep.store-error");

/**
 * An error that states its own kind. Adapters and step code throw it (or put it anywhere in a
 * `.cause` chain) to tell lockstep exactly what happened to a write.
 *
 * @example
 * ```ts
 * if (result.changes === 0) throw new StoreError("conflict", "The bounty moved on: version 3 expected.");
 * ```
 */
export class StoreError extends Error {
  /** What happened to the write. */
  readonly kind: ErrorKind;
  /** For a batch or a unit of work: the position of the write that caused the error. */
  readonly index: number | undefined;
  readonly [STORE_ERROR_BRAND] = true;

  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown; index?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "StoreError";
    this.kind = kind;
    this.index = options?.index;
  }

  /** Recognizes a `StoreError` from any copy of lockstep (ESM or CJS). */
  static is(value: unknown): value is StoreError {
    return hasBrand(value, STORE_ERROR_BRAND);
  }
}

/** An adapter's classifier: the kind of one error, or `undefined` when it does not recognize it. */
export type ErrorClassifier = (error: unknown) => ErrorKind | undefined;

/** How many links of a `.cause` chain are followed before giving up; guards against cycles. */
const MAX_CAUSE_DEPTH = 16;

/**
 * Normalizes an error into its kind by walking its `.cause` chain (and the members of an
 * `AggregateError`): the first link that is a {@link StoreError} or that the classifier recognizes
 * decides. An error nobody recognizes is `unknown`, because assuming "not applied" is what undoes
 * committed work.
 */
export function classifyError(error: unknown, classify?: ErrorClassifier): ErrorKind {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0 && seen.size < MAX_CAUSE_DEPTH) {
    const current = queue.shift();
    if (current === undefined || current === null || seen.has(current)) continue;
    seen.add(current);
    if (StoreError.is(current)) return current.kind;
    if (typeof current === "object") {
      const valueKind = kindOfErrorValue(current);
      if (valueKind !== undefined) return valueKind;
    }
    const kind = classify?.(current);
    if (kind !== undefined) return kind;
    if (typeof current === "object") {
      if (current instanceof AggregateError) queue.push(...current.errors);
      if ("cause" in current) queue.push((current as { cause?: unknown }).cause);
    }
  }
  return ErrorKind.Unknown;
}
