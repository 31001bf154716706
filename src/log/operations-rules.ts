import type { z } from "zod";
import { LockstepDefinitionError } from "../model/definition-error.js";
import {
  OPERATOR_EVENT_SAGA_IDS,
  type OperatorEvent,
  operatorEventSchema,
} from "../model/operator-event.js";
import {
  firstIssuePath,
  operatorActionSchema,
  PRUNABLE_STATUSES,
  type SagaStatus,
} from "../model/records.js";
import { type WorkerStatus, workerStatusSchema } from "../model/worker-status.js";
import { prunableStatuses } from "./log-rules.js";
import type { OperatorPrune } from "./operations-log.js";
import { SagaLogError } from "./saga-log.js";

/** How many events or worker reports a read returns when it does not say. */
export const DEFAULT_OPERATIONS_LIMIT = 100;

/** An operator's prune, checked, with the event it records before the prune fills in its outcome. */
export interface CheckedPrune {
  readonly before: number;
  readonly statuses: readonly SagaStatus[];
  readonly now: number;
  /** The event to record: `changed`, `skipped` and `sagaIds` are the prune's to fill in. */
  readonly event: OperatorEvent;
}

/**
 * Checks an {@link OperatorPrune} before anything is deleted, naming the first bad value in a
 * `LockstepDefinitionError` (a non-terminal status, a `before` or `now` that is not an integer, an
 * operator without a name), and drafts its event with a new id. Every log's `operations.prune`
 * starts here.
 */
export function checkOperatorPrune(request: OperatorPrune): CheckedPrune {
  const { before, now } = request;
  integer("before", before, Number.MIN_SAFE_INTEGER);
  integer("now", now, 0);
  const statuses = prunableStatuses(request.statuses ?? PRUNABLE_STATUSES);
  if (statuses.length === 0) {
    throw new LockstepDefinitionError(
      "Expected `statuses` to name at least one terminal status to prune, got none.",
    );
  }
  const operator = operatorActionSchema.safeParse(request.operator);
  if (!operator.success) {
    const field = firstIssuePath(operator.error);
    const given = (request.operator as unknown as Record<string, unknown> | undefined)?.[field];
    throw new LockstepDefinitionError(
      `Expected \`operator\` to have an actor (1 to 200 characters), an action (1 to 64) and a note (at most 2000); \`operator.${field}\` is ${JSON.stringify(given) ?? String(given)}.`,
    );
  }
  const event = validated(operatorEventSchema, "An operator event", {
    ...operator.data,
    eventId: globalThis.crypto.randomUUID(),
    at: now,
    request: { before, statuses: [...statuses] },
    changed: 0,
    skipped: 0,
    sagaIds: [],
  });
  return { before, statuses, now, event };
}

/**
 * The event of a prune that deleted `changed` sagas, of which `sagaIds` (in the log's id order; only
 * the first {@link OPERATOR_EVENT_SAGA_IDS} are kept), and left `skipped` because their lease is held.
 */
export function prunedEvent(
  checked: CheckedPrune,
  sagaIds: readonly string[],
  changed: number,
  skipped: number,
): OperatorEvent {
  return validated(operatorEventSchema, "An operator event", {
    ...checked.event,
    changed,
    skipped,
    sagaIds: sagaIds.slice(0, OPERATOR_EVENT_SAGA_IDS),
  });
}

/** An operator event as a log reads it back, validated (`SagaLogError("corrupt")` naming the field). */
export function readOperatorEvent(value: unknown): OperatorEvent {
  return validated(operatorEventSchema, "An operator event", value);
}

/**
 * A worker's status, validated before it is stored and when it is read back
 * (`SagaLogError("corrupt")` naming the field).
 */
export function validateWorkerStatus(value: unknown): WorkerStatus {
  return validated(workerStatusSchema, "A recovery worker's status", value);
}

/** `limit` checked (an integer >= 0), or the default. */
export function operationsLimit(limit: number | undefined): number {
  const value = limit ?? DEFAULT_OPERATIONS_LIMIT;
  integer("limit", value, 0);
  return value;
}

/** Whether a saga's lease is held at `now` (an ended saga's included): `prune` leaves it. */
export function leaseHeld(
  record: { readonly leaseOwner: string | null; readonly leaseExpiresAt: number | null },
  now: number,
): boolean {
  return (
    record.leaseOwner !== null && record.leaseExpiresAt !== null && record.leaseExpiresAt > now
  );
}

function validated<S extends z.ZodType>(schema: S, what: string, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const field = firstIssuePath(parsed.error);
    throw new SagaLogError(
      "corrupt",
      "",
      `${what} is invalid at \`${field}\`: ${parsed.error.issues[0]?.message ?? "invalid"}.`,
      { field, cause: parsed.error },
    );
  }
  return parsed.data;
}

function integer(name: string, value: unknown, min: number): void {
  if (!(Number.isSafeInteger(value) && (value as number) >= min)) {
    throw new LockstepDefinitionError(
      `Expected \`${name}\` to be an integer >= ${min}, got ${JSON.stringify(value) ?? String(value)}.`,
    );
  }
}
