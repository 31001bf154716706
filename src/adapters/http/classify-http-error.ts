import { NEVER_CONNECTED_CODES } from "../../core/connection-errors.js";
import { type ErrorKind, ErrorKind as Kind } from "../../model/error-kind.js";

/** Codes of failures before a connection existed, so before any request byte was sent. */
const NEVER_CONNECTED = new Set([...NEVER_CONNECTED_CODES, "UND_ERR_CONNECT_TIMEOUT"]);

/** Codes of a connection lost while the request or its response was in flight. */
const LOST = new Set([
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNABORTED",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/**
 * Recognizes the network errors `fetch` rejects with (Node's undici puts a coded error in the
 * `cause` of its `TypeError: fetch failed`; the core walks `.cause` chains), as a store's
 * `classifyError`:
 *
 * - connection refused, DNS failure, host unreachable, connect timeout: `transient` — the request
 *   was never sent;
 * - connection reset or closed, socket error, header or body timeout: `unknown` — the request was
 *   sent and may have been applied;
 * - anything else is left unrecognized (`undefined`), which the core treats as `unknown`.
 *
 * Errors from lockstep's own HTTP client are {@link HttpStoreError}s that already carry their kind.
 *
 * @example
 * ```ts
 * classifyError(new TypeError("fetch failed", { cause: refused }), classifyHttpError); // "transient"
 * ```
 */
export function classifyHttpError(error: unknown): ErrorKind | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string") return undefined;
  if (NEVER_CONNECTED.has(code)) return Kind.Transient;
  if (LOST.has(code)) return Kind.Unknown;
  return undefined;
}

/** The first link of a `.cause` chain (or `AggregateError`) that {@link classifyHttpError} knows. */
export function classifyNetworkFailure(error: unknown): ErrorKind | undefined {
  const queue: unknown[] = [error];
  const seen = new Set<unknown>();
  while (queue.length > 0 && seen.size < 16) {
    const current = queue.shift();
    if (typeof current !== "object" || current === null || seen.has(current)) continue;
    seen.add(current);
    const kind = classifyHttpError(current);
    if (kind !== undefined) return kind;
    if (current instanceof AggregateError) queue.push(...current.errors);
    if ("cause" in current) queue.push((current as { cause?: unknown }).cause);
  }
  return undefined;
}
