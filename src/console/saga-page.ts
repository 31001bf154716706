import type { Saga } from "../core/saga.js";
import { type SagaLog, SagaLogError } from "../log/saga-log.js";
import { EntryType, RECOVERABLE_STATUSES, SagaStatus } from "../model/records.js";
import { diagnoseSaga } from "../observability/diagnose-saga.js";
import { sagaTimeline } from "../observability/saga-timeline.js";
import { renderTimelineSvg } from "../observability/timeline-svg.js";
import { type ConsoleResponse, esc, iso, jsonBlock, page, statusBadge } from "./html.js";
import { ConsoleRefusal } from "./refusal.js";

/** What the saga page needs besides the log. */
export interface SagaPageContext {
  readonly log: SagaLog;
  // biome-ignore lint/suspicious/noExplicitAny: sagas of every input and output type.
  readonly sagas: readonly Saga<any, any>[] | undefined;
  /** Whether actions are on (the console has a token). */
  readonly actions: boolean;
  readonly now: number;
}

/** One saga: header, input, the timeline drawing, steps, entries, and its diagnosis when asked. */
export async function sagaPage(
  context: SagaPageContext,
  sagaId: string,
  diagnose: boolean,
): Promise<ConsoleResponse> {
  let snapshot: Awaited<ReturnType<SagaLog["load"]>>;
  try {
    snapshot = await context.log.load(sagaId);
  } catch (error) {
    if (SagaLogError.is(error) && error.reason === "corrupt") {
      throw new ConsoleRefusal(
        409,
        `Saga ${sagaId}`,
        `Saga "${sagaId}" has an invalid log record at \`${error.field ?? "(record)"}\`: ${error.message}`,
      );
    }
    throw error;
  }
  if (snapshot === undefined) {
    throw new ConsoleRefusal(404, "No such saga", `No saga with id "${sagaId}" is in the log.`);
  }
  const t = sagaTimeline(snapshot);
  const live = t.lease.owner !== null && (t.lease.expiresAt ?? 0) > context.now;
  const id = encodeURIComponent(sagaId);
  const head = `<dl class="head" data-testid="header">
<dt>id</dt><dd>${esc(t.sagaId)}</dd>
<dt>saga</dt><dd>${esc(t.saga)} (version ${t.version})</dd>
<dt>status</dt><dd data-testid="status">${statusBadge(t.status)}</dd>
<dt>created</dt><dd>${iso(t.createdAt)}</dd><dt>updated</dt><dd>${iso(t.updatedAt)}</dd>
<dt>lease</dt><dd>${t.lease.owner === null ? "free" : `${esc(t.lease.owner)} until ${iso(t.lease.expiresAt)}${live ? " (live)" : " (lapsed)"}`}, fencing token ${t.lease.token}</dd>
<dt>recovery</dt><dd>${t.recovery.attempts} attempt${t.recovery.attempts === 1 ? "" : "s"}${t.recovery.attempts > 0 ? `, next not before ${iso(t.recovery.nextAt)}` : ""}</dd>
${t.attention === undefined ? "" : `<dt>attention</dt><dd data-testid="attention">${esc(t.attention.reason)}${t.attention.step === "" ? "" : ` at step "${esc(t.attention.step)}"`}: ${esc(t.attention.message)}</dd>`}
</dl>`;
  const steps = `<table data-testid="steps"><thead><tr><th>Step</th><th>Kind</th><th>Store</th><th>Status</th><th>Attempts</th><th>Via</th><th>Compensation</th><th>Last error</th></tr></thead><tbody>
${t.steps.map((s) => `<tr><td>${esc(s.name)}</td><td>${esc(s.kind)}</td><td>${esc(s.store)}</td><td>${esc(s.status)}</td><td>${s.attempts}</td><td>${esc(s.via ?? "")}</td><td>${s.compensation === "none" ? "" : esc(s.compensation)}</td><td>${s.error === undefined ? "" : esc(`${s.error.kind}: ${s.error.message}`)}</td></tr>`).join("\n")}
</tbody></table>`;
  const entries = `<table data-testid="entries"><thead><tr><th>#</th><th>At</th><th>Token</th><th>Step</th><th>Event</th><th>Attempt</th><th>Detail</th></tr></thead><tbody>
${t.entries
  .map(
    (e) =>
      `<tr data-type="${esc(e.type)}"><td>${e.seq}</td><td>${iso(e.at)}</td><td>${e.token}${e.takeover ? " (takeover)" : ""}</td><td>${esc(e.step)}</td><td>${esc(e.type)}${e.via === undefined ? "" : ` (${esc(e.via)})`}</td><td>${e.attempt}</td><td>${esc(
        e.operator !== undefined
          ? `${e.operator.action} by ${e.operator.actor}: ${e.operator.note}`
          : e.error !== undefined
            ? `${e.error.kind}: ${e.error.message}`
            : e.output === undefined
              ? ""
              : JSON.stringify(e.output),
      )}</td></tr>`,
  )
  .join("\n")}
</tbody></table>`;
  const operatorCount = t.entries.filter((e) => e.type === EntryType.Operator).length;
  const diagnosis = diagnose
    ? await diagnosisBlock(context, sagaId)
    : `<p><a data-testid="diagnose" href="/sagas/${id}?diagnose=1">Diagnose</a>: rebuild its steps, ask the probes of steps the log leaves unknown (reads only)${context.sagas === undefined ? "; without --config, from the log alone" : ""}.</p>`;
  const body = `${head}
<h2>Input</h2>${jsonBlock(t.input, "input")}
<h2>Timeline</h2><div class="svg-wrap" data-testid="timeline">${renderTimelineSvg(snapshot)}</div>
<h2>Steps</h2>${steps}
<h2>Diagnosis</h2>${diagnosis}
${actionsBlock(context, sagaId, t.status, live)}
<h2>Log entries</h2><p>${t.entries.length} entries, ${operatorCount} by operators.</p>${entries}`;
  return page(`Saga ${t.saga} ${t.sagaId}`, body);
}

async function diagnosisBlock(context: SagaPageContext, sagaId: string): Promise<string> {
  const result = await diagnoseSaga(
    context.log,
    sagaId,
    context.sagas === undefined ? {} : { sagas: context.sagas },
  );
  if (result.isErr()) return `<p class="notice error">${esc(result.error.message)}</p>`;
  const d = result.value;
  return `<div data-testid="diagnosis"><p><strong>What is true:</strong></p><ul>${d.facts.map((f) => `<li>${esc(f)}</li>`).join("")}</ul>
<p><strong>What recovery will do:</strong> ${esc(d.plan)}</p>${d.problem ? `<p class="notice error">This saga needs someone's eyes.</p>` : ""}</div>`;
}

function actionsBlock(
  context: SagaPageContext,
  sagaId: string,
  status: SagaStatus,
  live: boolean,
): string {
  if (!context.actions) {
    return `<h2>Actions</h2><p class="notice" data-testid="actions-off">Actions are off: start the console with --token to run recovery or mark sagas for retry.</p>`;
  }
  const id = encodeURIComponent(sagaId);
  const links: string[] = [];
  if (RECOVERABLE_STATUSES.includes(status)) {
    links.push(
      `<a data-testid="action-recover" href="/actions/recover?saga=${id}">Run recovery for this saga…</a>`,
    );
  }
  if (status === SagaStatus.NeedsAttention) {
    links.push(
      `<a data-testid="action-retry" href="/actions/retry?saga=${id}">Mark for retry after a fix…</a>`,
    );
  }
  const lease = live
    ? `<p class="notice">A runner holds this saga's lease; actions on it are refused until the lease is released or lapses.</p>`
    : "";
  return `<h2>Actions</h2>${lease}${links.length === 0 ? "<p>No action applies to a saga in this status.</p>" : `<ul>${links.map((l) => `<li>${l}</li>`).join("")}</ul>`}`;
}
