import type { Clock } from "../core/clock.js";
import { createRunner } from "../core/runner.js";
import type { Saga } from "../core/saga.js";
import type { OperationsLog } from "../log/operations-log.js";
import type { SagaLog } from "../log/saga-log.js";
import {
  type OperatorAction,
  operatorActionSchema,
  RECOVERABLE_STATUSES,
  type SagaStatus,
  TERMINAL_STATUSES,
} from "../model/records.js";
import { markForRetry } from "../recovery/mark-for-retry.js";
import { createRecoverer } from "../recovery/recoverer.js";
import { checkToken } from "./console-token.js";
import { type ConsoleResponse, esc, iso, page, sagaLink } from "./html.js";
import { badField, ConsoleRefusal } from "./refusal.js";

/** The actions the console offers, each behind its token and a confirmation. */
export const ACTIONS = ["recover", "retry", "prune"] as const;

/** One of {@link ACTIONS}. */
export type ActionName = (typeof ACTIONS)[number];

/** What actions need. */
export interface ActionContext {
  readonly log: SagaLog;
  // biome-ignore lint/suspicious/noExplicitAny: sagas of every input and output type.
  readonly sagas: readonly Saga<any, any>[] | undefined;
  readonly token: string | undefined;
  /** Who acts, when the form does not say. */
  readonly actor: string;
  readonly clock: Clock;
}

const DAY = 86_400_000;
const PRUNABLE_BY_FORM: readonly string[] = TERMINAL_STATUSES;

/** The confirmation form of an action: nothing is changed until it is posted with the token. */
export function confirmPage(
  context: ActionContext,
  action: ActionName,
  query: URLSearchParams,
): ConsoleResponse {
  if (context.token === undefined) checkToken(undefined, undefined);
  if (action === "prune") operationsOf(context);
  const sagaId = query.get("saga") ?? "";
  if (action !== "prune" && sagaId === "") throw badField("saga", "a saga id", sagaId);
  const what =
    action === "recover"
      ? `Run recovery for saga ${sagaLink(sagaId)} now: take its lease (fencing token + 1), probe its in-doubt steps, then roll it forward or compensate it.`
      : action === "retry"
        ? `Mark saga ${sagaLink(sagaId)} for retry: it goes back to recovery with its attempts reset. Do this only after fixing what stopped it.`
        : "Delete finished sagas last updated longer ago than the days below, each with its entries; sagas whose lease a runner still holds are left. The prune is recorded in the log as an operator event (who, when, what, how many), in the same write as the deletion.";
  const fields =
    action === "prune"
      ? `<label>Older than (days) <input name="older_than_days" value="30" inputmode="numeric"></label>
<fieldset><legend>Statuses</legend>${PRUNABLE_BY_FORM.map((s) => `<label><input type="checkbox" name="status" value="${s}"${s === "completed" || s === "compensated" ? " checked" : ""}> ${s}</label>`).join(" ")}</fieldset>`
      : `<input type="hidden" name="saga" value="${esc(sagaId)}">`;
  return page(
    `Confirm: ${action}`,
    `<p>${what}</p>
<form method="post" action="/actions/${action}" data-testid="confirm-form">
${fields}
<p><label>Your name <input name="actor" value="${esc(context.actor)}"></label></p>
<p><label>Note <input name="note" size="60" placeholder="what was fixed, the ticket"></label></p>
<p><label>Console token <input type="password" name="token" autocomplete="off"></label></p>
<input type="hidden" name="confirm" value="yes">
<button type="submit" data-testid="confirm">Confirm ${esc(action)}</button> <a href="/sagas">cancel</a>
</form>`,
  );
}

/** Runs a posted action after checking its token, its confirmation and its fields. */
export async function runAction(
  context: ActionContext,
  action: ActionName,
  form: URLSearchParams,
  headerToken: string | undefined,
): Promise<ConsoleResponse> {
  checkToken(context.token, form.get("token") ?? headerToken);
  if (form.get("confirm") !== "yes") {
    throw new ConsoleRefusal(
      400,
      "Not confirmed",
      "The action was not confirmed (`confirm=yes`); nothing was changed.",
    );
  }
  const operator = operatorOf(context, action, form);
  if (action === "prune") return prune(context, form, operator);
  const sagaId = form.get("saga") ?? "";
  if (sagaId === "") throw badField("saga", "a saga id", sagaId);
  return action === "retry" ? retry(context, sagaId, operator) : recover(context, sagaId, operator);
}

function operatorOf(
  context: ActionContext,
  action: ActionName,
  form: URLSearchParams,
): OperatorAction {
  const parsed = operatorActionSchema.safeParse({
    actor: (form.get("actor") ?? "").trim() || context.actor,
    action,
    note: (form.get("note") ?? "").trim(),
  });
  if (!parsed.success) {
    const field = String(parsed.error.issues[0]?.path[0] ?? "actor");
    throw badField(
      field,
      "1 to 200 characters for actor, at most 2000 for note",
      form.get(field) ?? "",
    );
  }
  return parsed.data;
}

async function retry(
  context: ActionContext,
  sagaId: string,
  operator: OperatorAction,
): Promise<ConsoleResponse> {
  const marking = await markForRetry(context.log, sagaId, operator, context.clock);
  if (!marking.marked) {
    throw new ConsoleRefusal(
      marking.reason === "not_found" ? 404 : 409,
      "Refused",
      marking.message,
    );
  }
  return done(
    "Marked for retry",
    `Saga ${sagaLink(sagaId)} is ${esc(marking.status)} again under fencing token ${marking.token}, due for recovery now; recorded as an operator entry by ${esc(operator.actor)}.`,
  );
}

async function recover(
  context: ActionContext,
  sagaId: string,
  operator: OperatorAction,
): Promise<ConsoleResponse> {
  const snapshot = await context.log.load(sagaId);
  if (snapshot === undefined) {
    throw new ConsoleRefusal(404, "No such saga", `No saga with id "${sagaId}" is in the log.`);
  }
  const { record } = snapshot;
  if (!RECOVERABLE_STATUSES.includes(record.status)) {
    throw new ConsoleRefusal(
      409,
      "Refused",
      `Saga "${sagaId}" is ${record.status}; recovery only drives running, compensating or in-doubt sagas${record.status === "needs_attention" ? " (mark it for retry once it is fixed)" : ""}. Nothing was changed.`,
    );
  }
  const now = context.clock.now();
  if (record.leaseOwner !== null && (record.leaseExpiresAt ?? 0) > now) {
    throw leaseHeld(sagaId, record.leaseOwner, record.leaseExpiresAt);
  }
  if (context.sagas === undefined) {
    throw new ConsoleRefusal(
      409,
      "Refused",
      "Running recovery needs the saga definitions: start the console with --config <module>. Nothing was changed.",
    );
  }
  const runner = createRunner({
    log: context.log,
    clock: context.clock,
    owner: `console:${operator.actor}`,
  });
  const result = await createRecoverer({ runner, sagas: context.sagas }).recoverSaga(sagaId, {
    operator,
  });
  if (result.isErr()) throw result.error;
  if (result.value === undefined) {
    const now2 = await context.log.load(sagaId);
    throw leaseHeld(
      sagaId,
      now2?.record.leaseOwner ?? "another runner",
      now2?.record.leaseExpiresAt ?? null,
    );
  }
  const outcome = result.value;
  return done(
    "Recovery ran",
    `Recovery of saga ${sagaLink(sagaId)} ended <strong data-testid="outcome">${esc(outcome.outcome)}</strong>${outcome.error === undefined ? "" : `: ${esc(outcome.error.message)}`}; recorded as an operator entry by ${esc(operator.actor)}.`,
  );
}

async function prune(
  context: ActionContext,
  form: URLSearchParams,
  operator: OperatorAction,
): Promise<ConsoleResponse> {
  const days = form.get("older_than_days") ?? "";
  if (!/^\d{1,5}$/.test(days)) throw badField("older_than_days", "a whole number of days", days);
  const statuses = form.getAll("status");
  if (statuses.length === 0)
    throw badField("status", `one or more of ${PRUNABLE_BY_FORM.join(", ")}`, "");
  for (const s of statuses) {
    if (!PRUNABLE_BY_FORM.includes(s))
      throw badField("status", `one of ${PRUNABLE_BY_FORM.join(", ")}`, s);
  }
  const now = context.clock.now();
  const event = await operationsOf(context).prune({
    before: now - Number(days) * DAY,
    statuses: statuses as SagaStatus[],
    now,
    operator,
  });
  const skipped =
    event.skipped === 0
      ? ""
      : ` <span data-testid="skipped">${event.skipped}</span> left: a runner holds ${event.skipped === 1 ? "its" : "their"} lease.`;
  return done(
    "Pruned",
    `<span data-testid="pruned">${event.changed}</span> saga${event.changed === 1 ? "" : "s"} (${esc(statuses.join(", "))}) last updated before ${iso(event.request.before as number)} deleted, at the request of ${esc(operator.actor)}.${skipped} Recorded as <a href="/events#event-${esc(event.eventId)}">operator event ${esc(event.eventId)}</a>.`,
  );
}

/** The log's operations, or a refusal (409) when it keeps none: a prune it could not record. */
function operationsOf(context: ActionContext): OperationsLog {
  if (context.log.operations === undefined) {
    throw new ConsoleRefusal(
      409,
      "Refused",
      "This log keeps no operator events (its `operations` is absent), so a prune could not be recorded; the console does not prune it. Nothing was changed.",
    );
  }
  return context.log.operations;
}

function leaseHeld(sagaId: string, owner: string, until: number | null): ConsoleRefusal {
  return new ConsoleRefusal(
    409,
    "Lease held",
    `Saga "${sagaId}" is leased to "${owner}" until ${iso(until)}: a runner is driving it, so the action was refused and nothing was changed. Try again once the lease is released or lapses.`,
  );
}

function done(title: string, html: string): ConsoleResponse {
  return page(title, `<p class="notice ok" data-testid="action-done">${html}</p>`);
}
