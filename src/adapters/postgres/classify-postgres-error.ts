import { type ErrorKind, ErrorKind as Kind } from "../../model/error-kind.js";
import {
  classifyDriverError,
  type DriverErrors,
  isDriverConnectionLoss,
  LOST_SOCKET,
  NEVER_CONNECTED_SOCKET,
  someCause,
} from "../sql/driver-errors.js";

// SQLSTATE classes are two digits, or one of the few letter classes; node's errno codes ("EPIPE")
// are also five capital letters, so the shape alone would mistake them for SQLSTATEs.
const SQLSTATE = /^(?:[0-9][0-9A-Z]|F0|HV|P0|XX)[0-9A-Z]{3}$/;

/**
 * The SQLSTATE of a `pg` `DatabaseError` (e.g. `"23505"`), or `undefined` for anything else,
 * including node's socket error codes such as `"EPIPE"`. It looks at `error` itself, not its causes.
 *
 * @example
 * ```ts
 * if (sqlstateOf(error) === "23505") return { status: "duplicate" };
 * ```
 */
export function sqlstateOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && SQLSTATE.test(code) ? code : undefined;
}

/** `pg` and `pg-pool` messages for a statement refused before anything was written to the socket. */
const NOT_SENT_MESSAGES = [
  "Client has encountered a connection error and is not queryable",
  "Client was closed and is not queryable",
  "timeout exceeded when trying to connect",
  "Connection terminated due to connection timeout",
];

/** `pg` messages for a connection that ended while a statement may have been in flight. */
const LOST_MESSAGES = [
  "Connection terminated unexpectedly",
  "Connection terminated",
  "Query read timeout",
];

// Classes whose errors are the server refusing one statement outright; a Postgres statement is
// atomic, so nothing of it applied: data exceptions, integrity violations, syntax and access rules,
// unsupported features, invalid authorization, unknown database or schema, PL/pgSQL RAISE.
const REFUSED_CLASSES = new Set(["22", "23", "42", "0A", "28", "3D", "3F", "P0"]);

/** How `pg` and the server report their errors, for the SQL core's classification. */
const POSTGRES_ERRORS: DriverErrors = {
  isServerError: (error) => sqlstateOf(error) !== undefined,
  classifyServer: (error) => classifySqlstate(sqlstateOf(error) as string),
  // A connection exception (`08…`), or an operator or crash shutdown of the backend.
  lostConnection(error) {
    const sqlstate = sqlstateOf(error);
    return sqlstate?.startsWith("08") === true || sqlstate === "57P01" || sqlstate === "57P02";
  },
  // A node error code, never a SQLSTATE.
  codeOf(error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" && !SQLSTATE.test(code) ? code : undefined;
  },
  neverConnected: new Set(NEVER_CONNECTED_SOCKET),
  connectionLost: new Set(LOST_SOCKET),
  notSentMessages: NOT_SENT_MESSAGES,
  lostMessages: LOST_MESSAGES,
  closedPoolMessages: ["Cannot use a pool after calling end on the pool"],
};

/**
 * Recognizes `pg` driver and server errors, as a store's `classifyError`. Postgres reports a failed
 * statement with a SQLSTATE; `pg` reports a failed socket with a node error code or a message.
 *
 * - `not_committed`: integrity violations (class `23`) and the other outright refusals of a
 *   statement — data exceptions (`22`), syntax and access rules (`42`), unsupported features (`0A`),
 *   invalid authorization (`28`), an unknown database (`3D`) or schema (`3F`), a PL/pgSQL `RAISE`
 *   (`P0`), `25P02` (a statement sent to an already failed transaction) and `40002`;
 * - `transient` (nothing applied, a retry may work): serialization failures and deadlocks (`40001`,
 *   `40P01`), insufficient resources (`53…`), a server not accepting connections yet (`57P03`), a
 *   connection that could not be established (`08001`, `08004`, `ECONNREFUSED`, `ENOTFOUND`,
 *   `EAI_AGAIN`, a pool connect timeout), and a statement `pg` refused before sending because its
 *   client had already failed ("… is not queryable");
 * - `unknown` (it may have applied): a cancelled statement (`57014`), every other connection
 *   exception (`08…`), an administrator or crash shutdown of the backend (`57P01`, `57P02`, …), a
 *   socket that failed while connected (`ECONNRESET`, `EPIPE`, `ETIMEDOUT`, …), "Connection
 *   terminated", and `40003` (statement completion unknown);
 * - anything else is left unrecognized (`undefined`), so the core treats it as `unknown`.
 *
 * Outside a transaction this cannot know whether a lost connection was carrying a `COMMIT`, so it
 * says `unknown`; inside `store.transaction` lockstep knows the phase and reports a loss before
 * `COMMIT` was sent as not applied. The core walks `.cause` chains, so a wrapped `pg` error is still
 * recognized.
 *
 * @example
 * ```ts
 * classifyError(new Error("insert failed", { cause: pgError }), classifyPostgresError);
 * // "not_committed" for a unique violation (23505)
 * ```
 */
export function classifyPostgresError(error: unknown): ErrorKind | undefined {
  return classifyDriverError(POSTGRES_ERRORS, error);
}

function classifySqlstate(sqlstate: string): ErrorKind | undefined {
  const cls = sqlstate.slice(0, 2);
  if (REFUSED_CLASSES.has(cls)) return Kind.NotCommitted;
  switch (sqlstate) {
    case "40001":
    case "40P01":
    case "57P03":
    case "08001":
    case "08004":
      return Kind.Transient;
    case "40002":
    case "25P02":
      return Kind.NotCommitted;
    case "40003":
    case "57014":
      return Kind.Unknown;
    default:
      break;
  }
  if (cls === "53") return Kind.Transient;
  if (cls === "08" || cls === "57") return Kind.Unknown;
  return undefined;
}

/**
 * Whether an error, or any link of its `.cause` chain, says the connection failed (as opposed to the
 * server refusing a statement): a connection exception (`08…`), an operator or crash shutdown of the
 * backend (`57P01`, `57P02`), a socket error, or `pg`'s "Connection terminated" and "not queryable"
 * messages. Inside a transaction whose `COMMIT` was not yet sent, such a failure means Postgres
 * rolled the transaction back.
 *
 * @example
 * ```ts
 * if (isConnectionLoss(error)) scheduleRetry(); // the pool opens a fresh connection next time
 * ```
 */
export function isConnectionLoss(error: unknown): boolean {
  return isDriverConnectionLoss(POSTGRES_ERRORS, error);
}

/** Whether the error chain holds a serialization failure or deadlock (`40001`, `40P01`). */
export function isSerializationFailure(error: unknown): boolean {
  return someCause(error, (current) => {
    const sqlstate = sqlstateOf(current);
    return sqlstate === "40001" || sqlstate === "40P01";
  });
}
