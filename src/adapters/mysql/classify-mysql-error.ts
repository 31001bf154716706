import { type ErrorKind, ErrorKind as Kind } from "../../model/error-kind.js";
import {
  classifyDriverError,
  type DriverErrors,
  isDriverConnectionLoss,
  LOST_SOCKET,
  NEVER_CONNECTED_SOCKET,
  someCause,
} from "../sql/driver-errors.js";

/**
 * The server error number of a `mysql2` error (e.g. `1062` for a duplicate key), or `undefined`
 * for anything else, including socket errors (`ECONNRESET`), which carry no number from the server.
 * It looks at `error` itself, not its causes.
 *
 * @example
 * ```ts
 * if (mysqlErrnoOf(error) === 1062) return { status: "duplicate" };
 * ```
 */
export function mysqlErrnoOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { errno, sqlState } = error as { errno?: unknown; sqlState?: unknown };
  // Node's socket errors carry a (negative) errno too, but never a SQLSTATE.
  return typeof errno === "number" && errno > 0 && typeof sqlState === "string" ? errno : undefined;
}

/** Deadlock (1213) and lock wait timeout (1205): InnoDB refused the statement; a retry may work. */
const LOCK_CONFLICT = new Set([1205, 1213]);

/**
 * The server could not take the connection or the statement right now: too many connections
 * (1040, 1203), out of memory or resources (1037, 1038, 1041, 1135), a server in read-only mode
 * during failover (1290 is classed below), a host blocked for errors (1129), a lock table full (1206).
 */
const BUSY = new Set([1037, 1038, 1040, 1041, 1129, 1135, 1203, 1206]);

/**
 * The statement or its connection was interrupted: `KILL QUERY` (1317), a killed connection (1927,
 * MariaDB), a statement timeout (1969 MariaDB `max_statement_time`, 3024 MySQL
 * `max_execution_time`), a server shutting down (1053). What was running may have committed.
 */
const INTERRUPTED = new Set([1053, 1317, 1927, 1969, 3024]);

/** Socket and protocol errors on an established connection: a statement in flight may have applied. */
const CONNECTION_LOST = ["PROTOCOL_CONNECTION_LOST", "PROTOCOL_SEQUENCE_TIMEOUT", ...LOST_SOCKET];

/** `mysql2` messages for a statement refused before anything was written to the socket. */
const NOT_SENT_MESSAGES = [
  "Can't add new command when connection is in closed state",
  "No connections available.",
  "Queue limit reached.",
];

/** How `mysql2` and the server report their errors, for the SQL core's classification. */
const MYSQL_ERRORS: DriverErrors = {
  isServerError: (error) => mysqlErrnoOf(error) !== undefined,
  classifyServer: (error) =>
    classifyErrno(mysqlErrnoOf(error) as number, (error as { sqlState: string }).sqlState),
  // A fatal `mysql2` error, or a killed connection (1927) or server shutdown (1053).
  lostConnection(error) {
    if ((error as { fatal?: unknown }).fatal === true) return true;
    const errno = mysqlErrnoOf(error);
    return errno === 1927 || errno === 1053;
  },
  codeOf(error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? code : undefined;
  },
  neverConnected: new Set(NEVER_CONNECTED_SOCKET),
  connectionLost: new Set(CONNECTION_LOST),
  notSentMessages: NOT_SENT_MESSAGES,
  lostMessages: [],
  closedPoolMessages: ["Pool is closed."],
};

/**
 * Recognizes `mysql2` driver and MySQL/MariaDB server errors, as a store's `classifyError`. The
 * server reports a failed statement with an error number and a SQLSTATE; `mysql2` reports a failed
 * socket with a node error code or a `PROTOCOL_…` code.
 *
 * - `transient` (nothing applied, a retry may work): a deadlock (1213) or lock wait timeout (1205),
 *   a server out of connections or resources (1040, 1203, …), a connection that could not be made
 *   (`ECONNREFUSED`, `ENOTFOUND`, `EAI_AGAIN`), and a statement `mysql2` refused before sending
 *   it because its connection had already closed or the pool had none to give;
 * - `not_committed`: the server refusing one statement outright — a duplicate key (1062), any other
 *   integrity violation, data or syntax error, unknown table, column or database, missing privilege
 *   (SQLSTATE classes `23`, `22`, `42`, `28`, `3D`), a read-only server (1290, 1792, 1836) — and a
 *   call on a closed pool;
 * - `unknown` (it may have applied): an interrupted statement or connection (1317, 1927, 1969,
 *   3024), a server shutting down (1053), and a connection lost while connected
 *   (`PROTOCOL_CONNECTION_LOST`, `ECONNRESET`, `EPIPE`, `ETIMEDOUT`, …) — among them a `COMMIT`
 *   whose answer never came;
 * - anything else is left unrecognized (`undefined`), so the core treats it as `unknown`.
 *
 * Inside `store.transaction` lockstep knows the phase and reports a connection lost before `COMMIT`
 * was sent as not applied (InnoDB rolls the transaction back). The core walks `.cause` chains, so a
 * wrapped `mysql2` error is still recognized.
 *
 * @example
 * ```ts
 * classifyError(new Error("insert failed", { cause: mysqlError }), classifyMysqlError);
 * // "not_committed" for a duplicate key (1062)
 * ```
 */
export function classifyMysqlError(error: unknown): ErrorKind | undefined {
  return classifyDriverError(MYSQL_ERRORS, error);
}

function classifyErrno(errno: number, sqlState: string): ErrorKind | undefined {
  if (LOCK_CONFLICT.has(errno) || BUSY.has(errno)) return Kind.Transient;
  if (INTERRUPTED.has(errno)) return Kind.Unknown;
  if (errno === 1290 || errno === 1792 || errno === 1836) return Kind.NotCommitted;
  const cls = sqlState.slice(0, 2);
  if (cls === "23" || cls === "22" || cls === "42" || cls === "28" || cls === "3D") {
    return Kind.NotCommitted;
  }
  if (cls === "40") return Kind.Transient;
  if (cls === "08") return Kind.Unknown;
  return undefined;
}

/**
 * Whether an error, or any link of its `.cause` chain, says the connection failed (as opposed to the
 * server refusing a statement): a fatal `mysql2` error, a socket or protocol error, a killed
 * connection, or `mysql2`'s "closed state" message. Inside a transaction whose `COMMIT` was not yet
 * sent, such a failure means InnoDB rolled the transaction back.
 *
 * @example
 * ```ts
 * if (isMysqlConnectionLoss(error)) scheduleRetry(); // the pool opens a fresh connection next time
 * ```
 */
export function isMysqlConnectionLoss(error: unknown): boolean {
  return isDriverConnectionLoss(MYSQL_ERRORS, error);
}

/** Whether the error chain holds a deadlock (1213), which rolled the whole transaction back. */
export function isMysqlDeadlock(error: unknown): boolean {
  return someCause(error, (current) => mysqlErrnoOf(current) === 1213);
}
