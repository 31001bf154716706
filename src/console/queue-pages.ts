import type { SagaLog } from "../log/saga-log.js";
import { AttentionReason } from "../model/attention-reason.js";
import { type ConsoleResponse, esc, iso, page, sagaLink } from "./html.js";
import { WAY_OUT } from "./way-out.js";

/** How many sagas of one reason the queue shows; the list page pages through the rest. */
const PER_REASON = 50;

/** The needs_attention queue: one group per reason, with what happened and the way out. */
export async function attentionPage(log: SagaLog, actions: boolean): Promise<ConsoleResponse> {
  const groups: string[] = [];
  let total = 0;
  for (const reason of Object.values(AttentionReason)) {
    const sagas = await log.list({ attention: [reason], limit: PER_REASON + 1 });
    if (sagas.length === 0) continue;
    total += sagas.length;
    const shown = sagas.slice(0, PER_REASON);
    const way = WAY_OUT[reason];
    groups.push(`<section data-reason="${esc(reason)}"><h2>${esc(reason)} (${shown.length}${sagas.length > PER_REASON ? "+" : ""})</h2>
<p>${esc(way.what)}</p><p class="notice"><strong>Way out:</strong> ${esc(way.todo)}</p>
<table><thead><tr><th>ID</th><th>Saga</th><th>Step</th><th>Message</th><th>Updated</th>${actions ? "<th></th>" : ""}</tr></thead><tbody>
${shown
  .map(
    (r) =>
      `<tr><td>${sagaLink(r.sagaId)}</td><td>${esc(r.definition.name)} v${r.definition.version}</td><td>${esc(r.attention?.step ?? "")}</td><td>${esc(r.attention?.message ?? "")}</td><td>${iso(r.updatedAt)}</td>${actions ? `<td><a href="/actions/retry?saga=${encodeURIComponent(r.sagaId)}">Mark for retry…</a></td>` : ""}</tr>`,
  )
  .join("\n")}
</tbody></table>${sagas.length > PER_REASON ? `<p><a href="/sagas?reason=${esc(reason)}">All sagas with this reason →</a></p>` : ""}</section>`);
  }
  const body =
    total === 0
      ? `<p class="notice ok" data-testid="queue-empty">No saga needs attention.</p>`
      : groups.join("\n");
  return page("Needs attention", body);
}
