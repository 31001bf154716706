import { hasBrand } from "./brand.js";

const DEFINITION_ERROR_BRAND = Symbol.for("lockstep.definition-error");

/**
 * Thrown for programmer errors found when something is defined — a malformed saga, a store that
 * declares a capability it does not implement, an option out of range. Its message is a full
 * sentence naming the offending value.
 */
export class LockstepDefinitionError extends Error {
  readonly [DEFINITION_ERROR_BRAND] = true;

  constructor(message: string) {
    super(message);
    this.name = "LockstepDefinitionError";
  }

  /** Recognizes a definition error from any copy of lockstep (ESM or CJS). */
  static is(value: unknown): value is LockstepDefinitionError {
    return hasBrand(value, DEFINITION_ERROR_BRAND);
  }
}
