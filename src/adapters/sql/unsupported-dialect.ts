import { describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";

/**
 * Thrown when an ORM database handed to lockstep (a Drizzle or Kysely database) runs on a driver
 * lockstep cannot wrap yet. `dialect` names the driver as the ORM names it
 * (`"PostgresJsDatabase"`, `"SqliteRemoteDatabase"`, `"MssqlAdapter"`). It is a
 * {@link LockstepDefinitionError}, so `LockstepDefinitionError.is` recognises it too.
 *
 * @example
 * ```ts
 * // drizzleStore(drizzle(sql)) from drizzle-orm/postgres-js throws one whose `dialect` is "PostgresJsDatabase".
 * const dialectOf = (error: unknown) =>
 *   UnsupportedDialectError.is(error) ? error.dialect : undefined;
 * ```
 */
export class UnsupportedDialectError extends LockstepDefinitionError {
  /** The ORM and the driver it was given, e.g. `"Drizzle"` and `"PostgresJsDatabase"`. */
  readonly orm: string;
  readonly dialect: string;

  constructor(orm: string, dialect: string, supported: readonly string[]) {
    super(
      `${orm} databases on ${dialect} are not supported by lockstep yet; supported: ${supported.join(", ")}.`,
    );
    this.name = "UnsupportedDialectError";
    this.orm = orm;
    this.dialect = dialect;
  }

  /** Recognizes the error from any copy of lockstep (ESM or CJS). */
  static override is(value: unknown): value is UnsupportedDialectError {
    return (
      LockstepDefinitionError.is(value) &&
      (value as { name?: unknown }).name === "UnsupportedDialectError"
    );
  }
}

/** {@link describeValue}, adding the class of an object, which names a driver's client best. */
export function describeInstance(value: unknown): string {
  const described = describeValue(value);
  if (typeof value !== "object" || value === null) return described;
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name !== "" && name !== "Object"
    ? `${described}, an instance of \`${name}\``
    : described;
}
