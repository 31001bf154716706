import type { SagaLog } from "../log/saga-log.js";
import { AttentionReason } from "../model/attention-reason.js";
import { RECOVERABLE_STATUSES, SagaStatus } from "../model/records.js";
import { type ConsoleResponse, esc, iso, page, sagaLink } from "./html.js";
import { WAY_OUT } from "./way-out.js";

/** How many sagas of one reason the queue shows; the list page pages through the rest. */
const PER_REASON = 50;
/** How many live sagas the worker page reads to find the leases held now. */
const LEASES_READ = 500;

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

/**
 * Recovery workers. No worker reports its status to the log, so the page says so, and shows what
 * the log does tell: who holds live leases now, and how many sagas wait for recovery.
 */
export async function workersPage(log: SagaLog, now: number): Promise<ConsoleResponse> {
  const live = await log.list({
    status: RECOVERABLE_STATUSES,
    limit: LEASES_READ,
    orderBy: "updated",
  });
  const owners = new Map<string, { count: number; until: number }>();
  let waiting = 0;
  for (const r of live) {
    if (r.leaseOwner !== null && (r.leaseExpiresAt ?? 0) > now) {
      const o = owners.get(r.leaseOwner) ?? { count: 0, until: 0 };
      owners.set(r.leaseOwner, {
        count: o.count + 1,
        until: Math.max(o.until, r.leaseExpiresAt ?? 0),
      });
    } else {
      waiting++;
    }
  }
  const rows = [...owners]
    .map(
      ([owner, o]) => `<tr><td>${esc(owner)}</td><td>${o.count}</td><td>${iso(o.until)}</td></tr>`,
    )
    .join("\n");
  const inDoubt = live.filter((r) => r.status === SagaStatus.InDoubt).length;
  const body = `<p class="notice" data-testid="no-worker-reports">No worker reports: lockstep's recovery workers do not write a heartbeat or status to the log, so the console cannot say which are running. What the log shows instead:</p>
<p>${live.length}${live.length === LEASES_READ ? "+" : ""} running, compensating or in-doubt sagas (${inDoubt} in doubt); ${waiting} of them have no live lease and wait for a recovery worker.</p>
${owners.size === 0 ? "<p>No runner holds a live lease now.</p>" : `<table data-testid="lease-owners"><thead><tr><th>Lease owner</th><th>Sagas held</th><th>Latest lease ends</th></tr></thead><tbody>${rows}</tbody></table>`}`;
  return page("Recovery workers", body);
}
