import { type ErrorKind, ErrorKind as Kind } from "../../model/error-kind.js";

/** Socket errors that mean the connection was never made, so nothing was sent. */
export const NEVER_CONNECTED_SOCKET: readonly string[] = ["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"];

/** Socket errors on an established connection: a statement in flight may have been applied. */
export const LOST_SOCKET: readonly string[] = [
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "ENETUNREACH",
];

/**
 * How a network SQL driver (pg, mysql2) reports its errors: a server error carries the server's
 * code, a failed socket a node error code, a driver refusal only a message. One constant per driver;
 * {@link classifyDriverError} and {@link isDriverConnectionLoss} read it.
 */
export interface DriverErrors {
  /** Whether `error` came from the server, which then decides alone ({@link classifyServer}). */
  isServerError(error: object): boolean;
  /** The kind of a server error; `undefined` when unrecognised. */
  classifyServer(error: object): ErrorKind | undefined;
  /** A sign of the driver's own (a fatal flag, a server code) that the connection failed or is shutting down. */
  lostConnection(error: object): boolean;
  /** The node or driver error code of an error that is not the server's. */
  codeOf(error: object): string | undefined;
  /** Codes of a connection that was never made: nothing was sent. */
  readonly neverConnected: ReadonlySet<string>;
  /** Codes of a connection lost while established: a statement in flight may have applied. */
  readonly connectionLost: ReadonlySet<string>;
  /** Messages of a statement the driver refused before writing anything to the socket. */
  readonly notSentMessages: readonly string[];
  /** Messages of a connection that ended while a statement may have been in flight. */
  readonly lostMessages: readonly string[];
  /** Messages of a call on a pool already closed. */
  readonly closedPoolMessages: readonly string[];
}

/** Whether `error`'s message is one of `messages`. */
export function messageIs(error: object, messages: readonly string[]): boolean {
  const message = (error as { message?: unknown }).message;
  return typeof message === "string" && messages.includes(message);
}

/**
 * Classifies one error (not its causes) by `driver`'s vocabulary: a server error as the server's
 * code says; a connection never made, or a statement refused before it was sent, `transient`; a
 * connection lost while established `unknown`; a closed pool `not_committed`; anything else
 * `undefined`.
 */
export function classifyDriverError(driver: DriverErrors, error: unknown): ErrorKind | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  if (driver.isServerError(error)) return driver.classifyServer(error);
  const code = driver.codeOf(error);
  if (code !== undefined && driver.neverConnected.has(code)) return Kind.Transient;
  if (code !== undefined && driver.connectionLost.has(code)) return Kind.Unknown;
  if (messageIs(error, driver.notSentMessages)) return Kind.Transient;
  if (messageIs(error, driver.lostMessages)) return Kind.Unknown;
  if (messageIs(error, driver.closedPoolMessages)) return Kind.NotCommitted;
  return undefined;
}

/**
 * Whether `error`, or any link of its `.cause` chain, says the connection failed (as opposed to
 * the server refusing a statement), by `driver`'s vocabulary.
 */
export function isDriverConnectionLoss(driver: DriverErrors, error: unknown): boolean {
  return someCause(error, (current) => {
    if (driver.lostConnection(current)) return true;
    const code = driver.codeOf(current);
    if (
      code !== undefined &&
      (driver.neverConnected.has(code) || driver.connectionLost.has(code))
    ) {
      return true;
    }
    return messageIs(current, driver.notSentMessages) || messageIs(current, driver.lostMessages);
  });
}

/** Whether `test` holds for `error` or any object on its `.cause` chain (16 links at the most). */
export function someCause(error: unknown, test: (error: object) => boolean): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 16 && typeof current === "object" && current !== null; depth++) {
    if (test(current)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
