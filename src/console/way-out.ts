import { AttentionReason } from "../model/attention-reason.js";

/**
 * What happened and the documented way out for each reason a saga needs attention, as the
 * operations guide ("When a saga needs a person") words them. A record over every reason, so a new
 * reason cannot be added without saying how to get out of it.
 */
export const WAY_OUT: Readonly<
  Record<AttentionReason, { readonly what: string; readonly todo: string }>
> = {
  [AttentionReason.GuardFailed]: {
    what: "A compensation found state it did not write and undid nothing.",
    todo: "Decide whether the other writer's state or the saga's should stand; repair the store by hand, then mark the saga for retry if recovery should finish undoing it.",
  },
  [AttentionReason.CompensationFailed]: {
    what: "A compensation kept failing until recovery's attempts ran out.",
    todo: "Fix what makes it fail (a store down, a bug), then mark the saga for retry, or undo the step by hand.",
  },
  [AttentionReason.ForwardFailed]: {
    what: "A step after the pivot kept failing.",
    todo: "Fix the cause, then mark the saga for retry or finish the remaining steps by hand; the pivot has committed, so never undo it.",
  },
  [AttentionReason.InvalidOutput]: {
    what: "A step's output failed its schema; its write may be in place.",
    todo: "Fix the step or the schema, check the store, then mark the saga for retry.",
  },
  [AttentionReason.CorruptRecord]: {
    what: "A log record of it failed validation: its input, or an entry such as a step's logged output, no longer satisfies its schema, or the record was edited.",
    todo: "Deploy a schema that accepts what the log holds (or repair the record), then mark the saga for retry; or finish it by hand.",
  },
  [AttentionReason.DefinitionMismatch]: {
    what: "It was recovered with a definition that differs from the one it ran with.",
    todo: "Deploy the version it ran with (give stores their logged ids, or register the old version beside the new), then mark the saga for retry.",
  },
  [AttentionReason.InDoubtExhausted]: {
    what: "A probe never could tell whether a step's write landed.",
    todo: "Find out from the store whether the write landed, make the probe able to tell, then mark the saga for retry.",
  },
  [AttentionReason.IdempotencyWindowExpired]: {
    what: "A payment-style call may have landed after the provider forgot its idempotency key, and nothing could look it up.",
    todo: "Look the operation up at the provider (its dashboard or API), give the step a probe that can query it, then mark the saga for retry; never resend the key blindly.",
  },
  [AttentionReason.Escalated]: {
    what: "A step called escalate: it found the world in a state only a person can resolve.",
    todo: "Read its message and resolve what it describes; mark the saga for retry once the step can succeed.",
  },
};
