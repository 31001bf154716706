import type { SagaLog } from "../log/saga-log.js";
import type { OperatorEvent } from "../model/operator-event.js";
import { RECOVERABLE_STATUSES, SagaStatus } from "../model/records.js";
import type { WorkerStatus } from "../model/worker-status.js";
import { type ConsoleResponse, esc, iso, page } from "./html.js";

/** How many live sagas the worker page reads to find the leases held now. */
const LEASES_READ = 500;
/** How many operator events, and worker reports, a page shows: the newest. */
const SHOWN = 100;
/**
 * A worker whose last report is older than this many times its longest wait between passes is
 * marked stale: it stopped without saying so, or a pass is taking that long.
 */
export const STALE_AFTER = 3;

/**
 * Recovery workers: each worker that reports its status to the log (`log.operations`), with how long
 * ago it last did and whether that is too long; then what the log tells whoever reports or not: who
 * holds live leases now, and how many sagas wait for recovery.
 */
export async function workersPage(log: SagaLog, now: number): Promise<ConsoleResponse> {
  const reports = (await log.operations?.workers({ limit: SHOWN })) ?? [];
  const reported =
    reports.length === 0
      ? `<p class="notice" data-testid="no-worker-reports">No worker reports: ${log.operations === undefined ? "this log keeps no status reports" : "no recovery worker has reported its status to this log (workers report after every pass unless started with reportStatus: false)"}, so the console cannot say which are running. What the log shows instead:</p>`
      : `<table data-testid="workers"><thead><tr><th>Worker</th><th>Host</th><th>PID</th><th>Started</th><th>Last heartbeat</th><th>State</th><th>Passes (failed)</th><th>Last pass</th><th>Last error</th></tr></thead><tbody>
${reports.map((w) => workerRow(w, now)).join("\n")}
</tbody></table>
<p>A worker reports after every pass and when it stops; one silent for more than ${STALE_AFTER} times its longest wait between passes is marked stale.</p>`;
  return page("Recovery workers", `${reported}\n${await leasesBlock(log, now)}`);
}

function workerRow(w: WorkerStatus, now: number): string {
  const silent = now - w.heartbeatAt;
  const state =
    w.stoppedAt !== null ? "stopped" : silent > STALE_AFTER * w.intervalMs ? "stale" : "running";
  const said =
    state === "stopped"
      ? `stopped at ${iso(w.stoppedAt)}`
      : state === "stale"
        ? `<strong>stale</strong>: no report for ${duration(silent)}, expected within ${duration(w.intervalMs)} of a pass`
        : "running";
  const last = w.lastPass;
  const counts =
    last === null
      ? ""
      : Object.entries(last.counts)
          .filter(([, n]) => n > 0)
          .map(([outcome, n]) => `${esc(outcome)} ${n}`)
          .join(", ");
  return `<tr data-worker="${esc(w.workerId)}" data-state="${state}"><td>${esc(w.workerId)}</td><td>${esc(w.host ?? "—")}</td><td>${w.pid ?? "—"}</td><td>${iso(w.startedAt)}</td><td>${iso(w.heartbeatAt)} (${duration(Math.max(0, silent))} ago)</td><td class="${state === "running" ? "" : "attention"}">${said}</td><td>${w.passes} (${w.failedPasses})</td><td>${last === null ? "—" : `${iso(last.at)}: claimed ${last.claimed}${counts === "" ? "" : ` (${counts})`}`}</td><td>${w.lastError === null ? "—" : `${iso(w.lastError.at)}: ${esc(w.lastError.message)}`}</td></tr>`;
}

/** Who holds live leases now, and how many recoverable sagas wait for a worker. */
async function leasesBlock(log: SagaLog, now: number): Promise<string> {
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
  return `<h2>Leases</h2>
<p>${live.length}${live.length === LEASES_READ ? "+" : ""} running, compensating or in-doubt sagas (${inDoubt} in doubt); ${waiting} of them have no live lease and wait for a recovery worker.</p>
${owners.size === 0 ? "<p>No runner holds a live lease now.</p>" : `<table data-testid="lease-owners"><thead><tr><th>Lease owner</th><th>Sagas held</th><th>Latest lease ends</th></tr></thead><tbody>${rows}</tbody></table>`}`;
}

/**
 * Operator events: what operators did to the log as a whole (a prune), newest first. Actions on one
 * saga are recorded on that saga, as entries on its page.
 */
export async function eventsPage(log: SagaLog): Promise<ConsoleResponse> {
  if (log.operations === undefined) {
    return page(
      "Operator events",
      `<p class="notice" data-testid="no-operations">This log keeps no operator events (its <code>operations</code> is absent), so the console does not prune it.</p>`,
    );
  }
  const events = await log.operations.events({ limit: SHOWN });
  const note = `<p>Prunes are recorded here, in the same write as their deletions, from the console and from <code>lockstep prune</code>. Recovery and retries of one saga are recorded on that saga, among its log entries.</p>`;
  if (events.length === 0) {
    return page(
      "Operator events",
      `<p class="notice" data-testid="no-events">No operator event is recorded in this log.</p>${note}`,
    );
  }
  return page(
    "Operator events",
    `${note}<table data-testid="events"><thead><tr><th>At</th><th>Who</th><th>Action</th><th>Note</th><th>Asked</th><th>Changed</th><th>Left (lease held)</th><th>Sagas</th></tr></thead><tbody>
${events.map(eventRow).join("\n")}
</tbody></table>`,
  );
}

function eventRow(e: OperatorEvent): string {
  const more = e.changed - e.sagaIds.length;
  const ids = `${e.sagaIds.map(esc).join(", ")}${more > 0 ? ` and ${more} more` : ""}`;
  return `<tr id="event-${esc(e.eventId)}" data-action="${esc(e.action)}"><td>${iso(e.at)}</td><td>${esc(e.actor)}</td><td>${esc(e.action)}</td><td>${esc(e.note)}</td><td>${askedText(e.request)}</td><td data-testid="changed">${e.changed}</td><td>${e.skipped}</td><td>${ids}</td></tr>`;
}

/** What was asked, readably: a prune's cut-off and statuses; anything else as its JSON. */
function askedText(request: OperatorEvent["request"]): string {
  const { before, statuses } = request;
  if (typeof before === "number" && Array.isArray(statuses)) {
    return `last updated before ${iso(before)}; ${esc(statuses.join(", "))}`;
  }
  return esc(JSON.stringify(request));
}

/** A duration in the largest whole unit that fits: `45s`, `12m`, `3h`, `2d`. */
function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h` : `${Math.floor(h / 24)}d`;
}
