import { StoreError } from "../../core/error-kinds.js";
import { type ErrorKind, ErrorKind as Kind } from "../../model/error-kind.js";

/**
 * The response header a document service sets to `false` on an error response to say it did not
 * apply the write, turning a 5xx from `unknown` into `transient`.
 */
export const APPLIED_HEADER = "lockstep-applied";

/**
 * The request header that carries a step call's fence: `<saga id, percent-encoded>;<fencing token>`,
 * e.g. `lockstep-fence: order-17;3`. Sent by every request of a store created with `fencing: true`,
 * through the handle a step's execute, probe or compensate receives.
 */
export const FENCE_HEADER = "lockstep-fence";

/**
 * The response header a fencing service sets, with the highest token it has seen for the saga, on
 * the `409` that refuses a write whose fencing token is lower.
 */
export const FENCED_HEADER = "lockstep-fenced";

/** Which request of a write failed: the document's own, or the status-index marker after it. */
export type HttpPhase = "document" | "index";

/**
 * A request to an HTTP document store failed. Its `kind` says what happened to the write:
 *
 * - `412 Precondition Failed` is a `conflict`: the ETag moved on, nothing was applied;
 * - `409` with a `lockstep-fenced` header is `not_committed` and `fenced`: the write carried a
 *   fencing token lower than one the service has seen for its saga (a newer attempt has run since);
 * - `3xx` (redirects are not followed) and other `4xx` (`400`, `409`, `422`, …) are `not_committed`;
 * - `408`, `425`, `429`, and a `5xx` whose response says `lockstep-applied: false`, are `transient`;
 * - any other `5xx` is `unknown`: the service may have applied the write before failing;
 * - connection refused or a DNS failure is `transient` (nothing was sent); a connection lost after
 *   the request was sent is `unknown`; no answer within `timeoutMs` is `timeout`;
 * - in the `index` phase the document itself was written (`documentCommitted`) and only its
 *   status-index marker failed: the call failed, yet the write committed, so the kind is `unknown`
 *   and a probe finds the document.
 *
 * @example
 * ```ts
 * if (error instanceof HttpStoreError && error.documentCommitted) await handle.index?.sync(error.path);
 * ```
 */
export class HttpStoreError extends StoreError {
  /** The HTTP status, or `undefined` when no response arrived. */
  readonly status: number | undefined;
  /** The request method. */
  readonly method: string;
  /** The document path the write targeted. */
  readonly path: string;
  /** Which request failed. */
  readonly phase: HttpPhase;
  /** Whether the document write is known to have committed (only when the index write failed). */
  readonly documentCommitted: boolean;
  /** The committed document's ETag, when `documentCommitted`. */
  readonly etag: string | undefined;
  /**
   * Whether the service refused the request by its fence: the request's fencing token was lower
   * than one the service has seen for the saga. Nothing was applied.
   */
  readonly fenced: boolean;

  constructor(
    kind: ErrorKind,
    message: string,
    details: {
      readonly status?: number;
      readonly method: string;
      readonly path: string;
      readonly phase?: HttpPhase;
      readonly etag?: string;
      readonly fenced?: boolean;
      readonly cause?: unknown;
    },
  ) {
    super(kind, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "HttpStoreError";
    this.status = details.status;
    this.method = details.method;
    this.path = details.path;
    this.phase = details.phase ?? "document";
    this.documentCommitted = this.phase === "index";
    this.etag = details.etag;
    this.fenced = details.fenced ?? false;
  }
}

/**
 * The kind of a write's error response, from its status and whether the service said it did not
 * apply the write.
 */
export function kindOfStatus(status: number, saysNotApplied: boolean): ErrorKind {
  if (status === 412) return Kind.Conflict;
  if (status === 408 || status === 425 || status === 429) return Kind.Transient;
  if (status >= 300 && status < 500) return Kind.NotCommitted;
  if (status >= 500 && saysNotApplied) return Kind.Transient;
  return Kind.Unknown;
}
