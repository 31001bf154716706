import { StoreError } from "../../core/error-kinds.js";
import type { ErrorKind } from "../../model/error-kind.js";

/**
 * Which idempotency conflict a provider answered:
 *
 * - `in_progress` (`409`): another request with the same key is still being processed; this one
 *   was refused. Retrying with the same key later gets the first request's result.
 * - `mismatch` (`422` that says so): the key was already used with different parameters, so a
 *   request with this key reached the provider before; whether it applied is for the probe to say.
 */
export type IdempotencyConflict = "in_progress" | "mismatch";

/**
 * A request of an HTTP API store failed. Its `kind` says what happened to the write:
 *
 * - connection refused, DNS failure (nothing was sent), `408`, `425`, `429`, a `409` idempotency
 *   conflict (`in_progress`) and — unless the store says otherwise — a `5xx`: `transient`; the step
 *   is retried with the same key, which the provider deduplicates within its key window;
 * - a `422` idempotency conflict (`mismatch`), a connection lost after the request was sent:
 *   `unknown`; the step's probe decides; no answer within `timeoutMs`: `timeout`;
 * - any other `3xx` or `4xx`, a body that cannot be sent as JSON: `not_committed`.
 *
 * @example
 * ```ts
 * if (error instanceof HttpApiError && error.idempotencyConflict === "mismatch") alertOps(error.body);
 * ```
 */
export class HttpApiError extends StoreError {
  /** The HTTP status, or `undefined` when no response arrived. */
  readonly status: number | undefined;
  /** The request method. */
  readonly method: string;
  /** The path the request went to, under the store's base URL. */
  readonly path: string;
  /** The idempotency conflict the provider answered, if any. */
  readonly idempotencyConflict: IdempotencyConflict | undefined;
  /** The error response's body, when one was read. */
  readonly body: string | undefined;

  constructor(
    kind: ErrorKind,
    message: string,
    details: {
      readonly status?: number;
      readonly method: string;
      readonly path: string;
      readonly idempotencyConflict?: IdempotencyConflict;
      readonly body?: string;
      readonly cause?: unknown;
    },
  ) {
    super(kind, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "HttpApiError";
    this.status = details.status;
    this.method = details.method;
    this.path = details.path;
    this.idempotencyConflict = details.idempotencyConflict;
    this.body = details.body;
  }
}
