import { NEVER_CONNECTED_CODES } from "../../core/connection-errors.js";
import { type ErrorKind, ErrorKind as Kind } from "../../model/error-kind.js";

/** Reply-error prefixes for commands Redis refused whole: nothing of them was applied. */
const REFUSED = new Set([
  "WRONGTYPE",
  "EXECABORT",
  "NOSCRIPT",
  "NOPERM",
  "NOAUTH",
  "WRONGPASS",
  "OOM",
]);

/** Reply-error prefixes for a server that could not take the command now: a retry may succeed. */
const BUSY = new Set([
  "BUSY",
  "LOADING",
  "READONLY",
  "TRYAGAIN",
  "CLUSTERDOWN",
  "MASTERDOWN",
  "MOVED",
  "ASK",
]);

/** Socket error codes raised before a connection existed, so before any command was sent. */
const NEVER_CONNECTED: ReadonlySet<string> = new Set(NEVER_CONNECTED_CODES);

/** Socket error codes of a connection lost while commands may have been in flight. */
const LOST = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNABORTED"]);

/**
 * Recognizes ioredis errors, as a store's `classifyError`:
 *
 * - a reply error for a command Redis refused whole (`WRONGTYPE`, `ERR` syntax or arity, `OOM`,
 *   `NOSCRIPT`, `EXECABORT`, `NOPERM`, …) is `not_committed`;
 * - `BUSY`, `LOADING`, `READONLY`, `TRYAGAIN`, `CLUSTERDOWN`, `MOVED`, `ASK` are `transient`;
 * - a reply error raised by a Lua script (`ERR user_script:…`, `ERR Error running script`) is
 *   `unknown`: Redis does not undo the writes a script made before it failed;
 * - a command that never left the client (`MaxRetriesPerRequestError` from the offline queue,
 *   "Stream isn't writeable", connection refused, DNS failure) is `transient`;
 * - a connection lost mid-command (`ECONNRESET`, `EPIPE`, "Connection is closed.") and a command
 *   timeout ("Command timed out") are `unknown`: the command may have been applied;
 * - anything else is left unrecognized (`undefined`), which the core treats as `unknown`.
 *
 * @example
 * ```ts
 * classifyError(replyError("WRONGTYPE Operation against a key holding the wrong kind of value"), classifyRedisError);
 * // "not_committed"
 * ```
 */
export function classifyRedisError(error: unknown): ErrorKind | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { name, message, code } = error as { name?: unknown; message?: unknown; code?: unknown };
  const text = typeof message === "string" ? message : "";
  if (name === "ReplyError") return classifyReply(text);
  if (name === "MaxRetriesPerRequestError") return Kind.Transient;
  if (text.startsWith("Stream isn't writeable")) return Kind.Transient;
  if (typeof code === "string") {
    const syscall = (error as { syscall?: unknown }).syscall;
    if (NEVER_CONNECTED.has(code) || (code === "ETIMEDOUT" && syscall === "connect")) {
      return Kind.Transient;
    }
    if (LOST.has(code)) return Kind.Unknown;
  }
  if (text === "Connection is closed." || text === "Command timed out") return Kind.Unknown;
  return undefined;
}

/** The kind of a Redis error reply, from its first word. */
export function classifyReply(message: string): ErrorKind | undefined {
  const prefix = message.split(" ", 1)[0] ?? "";
  if (REFUSED.has(prefix)) return Kind.NotCommitted;
  if (BUSY.has(prefix)) return Kind.Transient;
  if (prefix === "ERR") {
    return /user_script|Error running script|script:/i.test(message)
      ? Kind.Unknown
      : Kind.NotCommitted;
  }
  return undefined;
}
