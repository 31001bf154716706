import { monotonicFactory } from "ulid";

const nextUlid = monotonicFactory();

/** A new saga id: a ULID, so ids sort by creation time. */
export function newSagaId(): string {
  return nextUlid();
}

/**
 * The idempotency key of a step: derived from the saga id and the step name, so it exists as soon as
 * the saga id is durable — before the first attempt — and is the same on every retry and recovery.
 */
export function stepKey(sagaId: string, stepName: string): string {
  return `${sagaId}:${stepName}`;
}
