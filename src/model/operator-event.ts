import { z } from "zod";
import { operatorActionSchema } from "./records.js";

/** How many saga ids an operator event keeps: the first ones by id; `changed` counts them all. */
export const OPERATOR_EVENT_SAGA_IDS = 100;

/**
 * What an operator did to the log as a whole, kept by the log itself (`SagaLog.operations`): who,
 * when, what was asked and what came of it. An action on one saga is recorded on that saga instead,
 * as an `operator` entry; an action that removes sagas (a prune) cannot be, so it is recorded here,
 * in the same atomic write as its effect.
 */
export const operatorEventSchema = operatorActionSchema.extend({
  /** The event's id, unique in the log. */
  eventId: z.string().min(1).max(64),
  /** When it happened, in milliseconds since the epoch, on the operator's clock. */
  at: z.number().int(),
  /** What was asked, as JSON: for a prune, its cut-off (`before`) and `statuses`. */
  request: z.record(z.string(), z.unknown()),
  /** How many sagas it changed: for a prune, how many it deleted. */
  changed: z.number().int().min(0),
  /** How many it left alone because a runner held their lease. */
  skipped: z.number().int().min(0),
  /** The ids of the sagas it changed, in id order: the first {@link OPERATOR_EVENT_SAGA_IDS}. */
  sagaIds: z.array(z.string()).max(OPERATOR_EVENT_SAGA_IDS),
});

/** What an operator did to the log as a whole; see {@link operatorEventSchema}. */
export type OperatorEvent = z.infer<typeof operatorEventSchema>;
