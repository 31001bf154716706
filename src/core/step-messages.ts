import type { SagaLog } from "../log/saga-log.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { type NewOutboxMessage, outboxMessageId } from "../model/outbox.js";
import type { ExecutionState } from "./execution-state.js";
import { stepKey } from "./ids.js";
import { messageOf } from "./message-of.js";
import { StepStatus } from "./report.js";
import type { Saga } from "./saga.js";
import { checkOutput, jsonLoss } from "./step-output.js";
import { describeValue } from "./validate.js";

/** What {@link checkCommit} found: the parsed output with the messages its commit records, or why not. */
export type CommitCheck =
  | {
      readonly ok: true;
      readonly output: unknown;
      readonly messages: readonly NewOutboxMessage[];
    }
  | {
      readonly ok: false;
      /** What is wrong, as the end of a sentence that starts "The output of step X". */
      readonly message: string;
    };

/**
 * Checks what step `i` committed before anything records it: its output (see `checkOutput`) and
 * the outbox messages its `publish` derives from that output, each needing a topic and a body JSON
 * can hold. A bad message refuses the commit's record, naming the value, so it is never stored half
 * or sent in a shape no consumer expects. `pending` holds the outputs of earlier steps of a
 * co-committed group, not committed yet.
 */
export function checkCommit(
  state: ExecutionState,
  i: number,
  raw: unknown,
  pending: Readonly<Record<string, unknown>> = {},
): CommitCheck {
  const step = state.stepAt(i);
  const checked = checkOutput(step, raw);
  if (!checked.ok || step.publish === undefined) {
    return checked.ok ? { ok: true, output: checked.output, messages: [] } : checked;
  }
  const outputs: Record<string, unknown> = { ...pending };
  for (let k = 0; k < i; k++) {
    const st = state.stateAt(k);
    if (st.status === StepStatus.Committed) outputs[state.stepAt(k).name] = st.output;
  }
  let published: unknown;
  try {
    published = step.publish({
      input: state.input,
      outputs: Object.freeze(outputs),
      output: checked.output,
      sagaId: state.sagaId,
      key: stepKey(state.sagaId, step.name),
    });
  } catch (error) {
    return {
      ok: false,
      message: `could not give its outbox messages: publish threw (${messageOf(error)})`,
    };
  }
  if (!Array.isArray(published)) {
    return {
      ok: false,
      message: `could not give its outbox messages: publish must return an array, got ${describeValue(published)}`,
    };
  }
  const messages: NewOutboxMessage[] = [];
  for (const [index, value] of published.entries()) {
    const problem = messageProblem(value, `publish()[${index}]`);
    if (problem !== undefined) {
      return { ok: false, message: `gives an outbox message that cannot be recorded (${problem})` };
    }
    const { topic, message, headers } = value as {
      topic: string;
      message: unknown;
      headers?: Record<string, string>;
    };
    messages.push({
      messageId: outboxMessageId(state.sagaId, step.name, index),
      sagaId: state.sagaId,
      step: step.name,
      index,
      topic,
      // Stored as JSON reads it back, so a relay after a crash sends what a live one would have.
      message: message === undefined ? null : JSON.parse(JSON.stringify(message)),
      headers: { ...(headers ?? {}) },
    });
  }
  return { ok: true, output: checked.output, messages };
}

/** What is wrong with one message `publish` returned, as "`path`: what", or `undefined`. */
function messageProblem(value: unknown, path: string): string | undefined {
  if (typeof value !== "object" || value === null) {
    return `\`${path}\`: expected { topic, message }, got ${describeValue(value)}`;
  }
  const { topic, message, headers } = value as Record<string, unknown>;
  if (typeof topic !== "string" || topic.length === 0) {
    return `\`${path}.topic\`: expected a non-empty string, got ${describeValue(topic)}`;
  }
  if (headers !== undefined) {
    if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
      return `\`${path}.headers\`: expected an object of strings, got ${describeValue(headers)}`;
    }
    for (const [name, header] of Object.entries(headers)) {
      if (typeof header !== "string") {
        return `\`${path}.headers.${name}\`: expected a string, got ${describeValue(header)}`;
      }
    }
  }
  const lost = jsonLoss(message, `${path}.message`);
  return lost;
}

/**
 * Throws a {@link LockstepDefinitionError} when `saga` has a step that publishes and `log` cannot
 * record outbox messages (it has no `outbox`): its messages would be lost without a word.
 */
export function assertOutboxSupported(saga: Saga, log: SagaLog): void {
  if (log.outbox !== undefined) return;
  const publishing = saga.steps.find((s) => s.publish !== undefined);
  if (publishing === undefined) return;
  throw new LockstepDefinitionError(
    `Step "${publishing.name}" of saga "${saga.name}" publishes outbox messages, but the runner's saga log has no outbox to record them in; use a log that records them (the memory, SQLite or Postgres log).`,
  );
}
