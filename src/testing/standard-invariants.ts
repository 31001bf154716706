import type { Invariant } from "./invariant.js";
import { logWellFormed } from "./log-well-formed.js";
import { noDoubleCompensation } from "./no-double-compensation.js";
import { recoveryIdempotent } from "./recovery-idempotent.js";
import { terminalState } from "./terminal-state.js";

/**
 * The invariants every saga must keep whatever its domain, which the explorer and the simulator
 * add unless told not to: every saga ends terminal ({@link terminalState}), its log is well formed
 * ({@link logWellFormed}), no step is compensated twice ({@link noDoubleCompensation}), and a
 * recovery pass after a completed one changes nothing ({@link recoveryIdempotent}).
 *
 * @example
 * ```ts
 * const invariants = [...standardInvariants(), conservation];
 * ```
 */
export function standardInvariants(): readonly Invariant[] {
  return Object.freeze([
    terminalState(),
    logWellFormed(),
    noDoubleCompensation(),
    recoveryIdempotent(),
  ]);
}
