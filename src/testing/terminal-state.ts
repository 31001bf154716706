import { describeValue } from "../core/validate.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { SagaStatus, TERMINAL_STATUSES } from "../model/records.js";
import { defineInvariant, type Invariant } from "./invariant.js";

/** Options of {@link terminalState}. */
export interface TerminalStateOptions {
  /**
   * The statuses a saga may end in. Narrow it to `["completed", "compensated"]` to treat a saga left
   * for a person as a failure too.
   * @default every terminal status: completed, compensated, needs_attention, quarantined
   */
  readonly statuses?: readonly SagaStatus[];
}

/**
 * An invariant that every saga in the log has reached an end: recovery left nothing running,
 * compensating or in doubt.
 *
 * @example
 * ```ts
 * const ended = terminalState({ statuses: ["completed", "compensated"] });
 * ```
 */
export function terminalState(options: TerminalStateOptions = {}): Invariant {
  const statuses = options.statuses ?? TERMINAL_STATUSES;
  const known: readonly string[] = Object.values(SagaStatus);
  if (!Array.isArray(statuses) || statuses.some((s) => !known.includes(s))) {
    throw new LockstepDefinitionError(
      `Expected \`statuses\` to be a list of saga statuses (${known.join(", ")}), got ${describeValue(statuses)}.`,
    );
  }
  return defineInvariant(
    "terminal state",
    ({ sagas }) =>
      sagas
        .filter((s) => !statuses.includes(s.record.status))
        .map(
          (s) =>
            `Saga "${s.record.sagaId}" is ${s.record.status}, not one of ${statuses.join(", ")}.`,
        ),
    { reads: "log" },
  );
}
