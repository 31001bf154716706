import { cursorOf, type SagaFilter, type SagaLog, SagaOrder } from "../log/saga-log.js";
import { AttentionReason } from "../model/attention-reason.js";
import { type SagaRecord, SagaStatus } from "../model/records.js";
import { type ConsoleResponse, esc, iso, page, sagaLink, statusBadge } from "./html.js";
import { badField } from "./refusal.js";

const STATUSES: readonly string[] = Object.values(SagaStatus);
const REASONS: readonly string[] = Object.values(AttentionReason);
const ORDERS: readonly string[] = Object.values(SagaOrder);

/** The list's filters as the query string gives them, checked. */
export interface ListQuery {
  readonly filter: SagaFilter;
  readonly order: SagaOrder;
  /** The query's own values, to fill the form and build the next page's link. */
  readonly values: Readonly<Record<string, string>>;
}

/** A time from a query: milliseconds since the epoch, or an ISO date (a zone-less one is UTC). */
function timeOf(field: string, value: string): number {
  if (/^-?\d+$/.test(value)) return Number(value);
  const withZone = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`;
  const ms = Date.parse(withZone);
  if (Number.isNaN(ms)) {
    throw badField(field, "a time (ISO-8601, UTC unless it says, or milliseconds)", value);
  }
  return ms;
}

/** Reads and checks the list's query string; refuses (400) a value it cannot take, naming it. */
export function parseListQuery(query: URLSearchParams, pageSize: number): ListQuery {
  const values: Record<string, string> = {};
  for (const key of [
    "name",
    "status",
    "reason",
    "since",
    "until",
    "order",
    "before_time",
    "before_id",
  ]) {
    const value = query.get(key);
    if (value !== null && value !== "") values[key] = value;
  }
  const order = (values.order ?? SagaOrder.Created) as SagaOrder;
  if (!ORDERS.includes(order)) badOrThrow("order", ORDERS, order);
  const filter: Record<string, unknown> = { orderBy: order, limit: pageSize + 1 };
  if (values.name !== undefined) filter.name = values.name;
  if (values.status !== undefined) {
    if (!STATUSES.includes(values.status)) badOrThrow("status", STATUSES, values.status);
    filter.status = [values.status];
  }
  if (values.reason !== undefined) {
    if (!REASONS.includes(values.reason)) badOrThrow("reason", REASONS, values.reason);
    filter.attention = [values.reason];
  }
  if (values.since !== undefined) filter.since = timeOf("since", values.since);
  if (values.until !== undefined) filter.until = timeOf("until", values.until);
  if ((values.before_time === undefined) !== (values.before_id === undefined)) {
    throw badField(
      "before_time and before_id",
      "given together",
      values.before_time ?? values.before_id ?? "",
    );
  }
  if (values.before_time !== undefined && values.before_id !== undefined) {
    if (!/^-?\d+$/.test(values.before_time)) {
      throw badField("before_time", "an integer (milliseconds)", values.before_time);
    }
    filter.before = { time: Number(values.before_time), sagaId: values.before_id };
  }
  return { filter: filter as SagaFilter, order, values };
}

function badOrThrow(field: string, allowed: readonly string[], value: string): never {
  throw badField(field, `one of ${allowed.join(", ")}`, value);
}

/** The sagas list: the filter form, one page of sagas newest first, and a link to the next page. */
export async function listPage(
  log: SagaLog,
  query: ListQuery,
  pageSize: number,
): Promise<ConsoleResponse> {
  const found = await log.list(query.filter);
  const rows = found.slice(0, pageSize);
  const more = found.length > pageSize;
  const byUpdate = query.order === SagaOrder.Updated;
  const v = query.values;
  const options = (all: readonly string[], selected: string | undefined, any: string) =>
    [
      `<option value="">${any}</option>`,
      ...all.map((o) => `<option${o === selected ? " selected" : ""}>${esc(o)}</option>`),
    ].join("");
  const form = `<form class="filters" method="get" action="/sagas">
<label>Name<input name="name" value="${esc(v.name ?? "")}"></label>
<label>Status<select name="status">${options(STATUSES, v.status, "any status")}</select></label>
<label>Attention reason<select name="reason">${options(REASONS, v.reason, "any reason")}</select></label>
<label>Since (UTC)<input name="since" placeholder="2026-01-31T00:00" value="${esc(v.since ?? "")}"></label>
<label>Until (UTC)<input name="until" placeholder="2026-02-01T00:00" value="${esc(v.until ?? "")}"></label>
<label>Newest by<select name="order">${ORDERS.map((o) => `<option${o === query.order ? " selected" : ""}>${o}</option>`).join("")}</select></label>
<button type="submit">Filter</button> <a href="/sagas">clear</a></form>`;
  const table =
    rows.length === 0
      ? `<p class="notice" data-testid="empty">No sagas match.</p>`
      : `<table data-testid="sagas"><thead><tr><th>ID</th><th>Saga</th><th>Status</th><th>${byUpdate ? "Updated" : "Created"}</th><th>Lease</th><th>Token</th><th>Attention</th></tr></thead><tbody>
${rows.map((r) => row(r, byUpdate)).join("\n")}
</tbody></table>`;
  let next = "";
  if (more) {
    const last = rows[rows.length - 1] as SagaRecord;
    const cursor = cursorOf(last, query.order);
    const params = new URLSearchParams({
      ...v,
      before_time: String(cursor.time),
      before_id: cursor.sagaId,
    });
    next = `<p><a data-testid="next-page" href="/sagas?${esc(params.toString())}">Older sagas →</a></p>`;
  }
  const first =
    v.before_time === undefined
      ? ""
      : ` <a href="/sagas?${esc(new URLSearchParams(withoutCursor(v)).toString())}">← newest</a>`;
  return page(
    "Sagas",
    `${form}<p>${rows.length} saga${rows.length === 1 ? "" : "s"} on this page, newest first by ${byUpdate ? "last update" : "creation"}.${first}</p>${table}${next}`,
  );
}

function withoutCursor(values: Readonly<Record<string, string>>): Record<string, string> {
  const { before_time: _t, before_id: _i, ...rest } = values;
  return rest;
}

function row(r: SagaRecord, byUpdate: boolean): string {
  const lease =
    r.leaseOwner === null ? "free" : `${esc(r.leaseOwner)} until ${iso(r.leaseExpiresAt)}`;
  const attention =
    r.attention === null
      ? ""
      : `${esc(r.attention.reason)}${r.attention.step === "" ? "" : ` at ${esc(r.attention.step)}`}`;
  return `<tr data-status="${esc(r.status)}"><td>${sagaLink(r.sagaId)}</td><td>${esc(r.definition.name)} v${r.definition.version}</td><td>${statusBadge(r.status)}</td><td>${iso(byUpdate ? r.updatedAt : r.createdAt)}</td><td>${lease}</td><td>${r.fencingToken}</td><td>${attention}</td></tr>`;
}
