import type { SagaLog } from "../log/saga-log.js";
import { outboxMessageId } from "../model/outbox.js";
import type { Saga } from "./saga.js";
import type { StepDefinition } from "./step.js";

/** How a step's outbox messages are recorded: see {@link OutboxPlan}. */
export type OutboxRecording =
  /** In the step's own transaction, with its writes and its log record. */
  | "co_committed"
  /** In the log write that records the step's commit. */
  | "with_commit"
  /** The log has no outbox: a runner refuses to start the saga. */
  | "unsupported";

/** What explain says about a step that publishes outbox messages. */
export interface OutboxPlan {
  /** Where the messages are recorded; `with_commit` when explain was given no log. */
  readonly recorded: OutboxRecording;
  /** The id of the step's first message, as a pattern (`<sagaId>:<step>:0`). */
  readonly firstMessageId: string;
  /** The plan in words. */
  readonly note: string;
}

/**
 * The outbox plan of `step`, or `undefined` when it publishes nothing. `log` is the log explain
 * was given, if any: a whole log without `outbox` makes the messages `unsupported`.
 */
export function outboxPlanOf(
  // biome-ignore lint/suspicious/noExplicitAny: any saga.
  saga: Saga<any, any>,
  step: StepDefinition,
  coCommitted: boolean,
  log: object | undefined,
): OutboxPlan | undefined {
  if (step.publish === undefined) return undefined;
  const recorded: OutboxRecording =
    // A log explain knows only by its co-commit store is not taken to lack an outbox.
    typeof (log as Partial<SagaLog> | undefined)?.write === "function" &&
    (log as Partial<SagaLog>).outbox === undefined
      ? "unsupported"
      : coCommitted
        ? "co_committed"
        : "with_commit";
  const firstMessageId = outboxMessageId("<sagaId>", step.name, 0);
  const where = {
    co_committed:
      "in the same transaction as its writes and its log record, so they exist exactly when its writes do",
    with_commit:
      "in the same log write that records its commit (from execute's output or the probe's), so a committed step never loses them",
    unsupported:
      "nowhere: the saga log has no outbox, so a runner on it refuses to start this saga; use the memory, SQLite or Postgres log",
  }[recorded];
  return Object.freeze({
    recorded,
    firstMessageId,
    note: `Step "${step.name}" of saga "${saga.name}" publishes outbox messages, recorded ${where}. A relay (lockstep/outbox) delivers each at least once with a stable id (${firstMessageId}, …), fenced by its claim's token; consumers dedupe by that id (an inbox).`,
  });
}
