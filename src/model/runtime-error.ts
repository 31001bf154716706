import { hasBrand } from "./brand.js";

const RUNTIME_ERROR_BRAND = Symbol.for("lockstep.runtime-error");

/**
 * Thrown when a part of lockstep is used on a JavaScript runtime that lacks what it needs — a
 * `bun:sqlite` database outside Bun, an environment variable Deno was not permitted to read. Its
 * message names the requirement and what to do instead; {@link LockstepRuntimeError.requirement}
 * holds the requirement alone.
 */
export class LockstepRuntimeError extends Error {
  readonly [RUNTIME_ERROR_BRAND] = true;
  /** What the runtime must provide, e.g. `"the Bun runtime (bun:sqlite)"`. */
  readonly requirement: string;

  constructor(requirement: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LockstepRuntimeError";
    this.requirement = requirement;
  }

  /** Recognizes a runtime error from any copy of lockstep (ESM or CJS). */
  static is(value: unknown): value is LockstepRuntimeError {
    return hasBrand(value, RUNTIME_ERROR_BRAND);
  }
}
