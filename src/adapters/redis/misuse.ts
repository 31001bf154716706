import { StoreError } from "../../core/error-kinds.js";
import { describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import { ErrorKind } from "../../model/error-kind.js";

/**
 * A malformed call reaches no server, so it is `not_committed`; the definition error in its cause
 * keeps the programmer's mistake visible.
 */
export function misuse(message: string, index?: number): StoreError {
  return new StoreError(ErrorKind.NotCommitted, message, {
    cause: new LockstepDefinitionError(message),
    ...(index === undefined ? {} : { index }),
  });
}

/** The message for a key that is not a non-empty string. */
export function keyMessage(key: unknown): string {
  return `Expected a Redis key to be a non-empty string, got ${describeValue(key)}.`;
}
