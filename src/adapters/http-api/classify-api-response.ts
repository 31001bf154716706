import { ErrorKind } from "../../model/error-kind.js";
import type { IdempotencyConflict } from "./http-api-error.js";

/** How a store treats a `5xx` answer: retried with the same key, or settled by the probe. */
export type ServerErrorKind = "transient" | "unknown";

/** What an error response means for the write that got it. */
export interface ResponseVerdict {
  readonly kind: ErrorKind;
  readonly idempotencyConflict?: IdempotencyConflict;
}

/**
 * The kind of an API's error response (`status` outside 2xx), from its status and body:
 * `409` is an idempotency conflict in progress (`transient`); a `422` whose body mentions
 * idempotency is a key reused with other parameters (`unknown`); `408`, `425` and `429` are
 * `transient`; a `5xx` is `serverErrors`; any other `3xx` or `4xx` is `not_committed`.
 *
 * @example
 * ```ts
 * classifyApiResponse(409, '{"error":"idempotency_key_in_use"}', "transient"); // transient, in_progress
 * ```
 */
export function classifyApiResponse(
  status: number,
  body: string | undefined,
  serverErrors: ServerErrorKind,
): ResponseVerdict {
  if (status === 409) return { kind: ErrorKind.Transient, idempotencyConflict: "in_progress" };
  if (status === 422 && /idempoten/i.test(body ?? "")) {
    return { kind: ErrorKind.Unknown, idempotencyConflict: "mismatch" };
  }
  if (status === 408 || status === 425 || status === 429) return { kind: ErrorKind.Transient };
  if (status >= 500) {
    return { kind: serverErrors === "unknown" ? ErrorKind.Unknown : ErrorKind.Transient };
  }
  return { kind: ErrorKind.NotCommitted };
}
