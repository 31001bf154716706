import { escapeMarkup } from "../observability/escape-markup.js";

/** Escapes text for HTML; everything from the log or the request goes through it. */
export const esc = escapeMarkup;

/** A response the console sends: status, body and content type. */
export interface ConsoleResponse {
  readonly status: number;
  readonly body: string;
  /** @default "text/html; charset=utf-8" */
  readonly type?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

const CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fff}
header{background:#263238;color:#fff;padding:10px 18px;display:flex;gap:18px;align-items:baseline}
header a{color:#cfd8dc;text-decoration:none}header a:hover{color:#fff}
header strong{font-size:16px;margin-right:12px}
main{padding:14px 18px;max-width:1200px}
table{border-collapse:collapse;width:100%;margin:8px 0 16px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e0e0e0;vertical-align:top}
th{background:#f5f5f5;font-weight:600}
pre{background:#f7f7f7;padding:8px;overflow:auto;max-height:320px}
form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:end;margin-bottom:8px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#555}
.status{padding:1px 6px;border-radius:8px;font-size:12px;background:#eceff1}
.s-completed{background:#c8e6c9}.s-compensated{background:#bbdefb}.s-needs_attention{background:#ffcdd2}
.s-in_doubt{background:#ffe0b2}.s-running{background:#fff9c4}.s-compensating{background:#e1bee7}.s-quarantined{background:#d7ccc8}
.notice{padding:8px 12px;border-left:4px solid #90a4ae;background:#eceff1;margin:8px 0}
.error{border-color:#c62828;background:#ffebee}td.attention{color:#b71c1c}.ok{border-color:#2e7d32;background:#e8f5e9}
dl.head{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px}dl.head dt{color:#555}
.svg-wrap{overflow-x:auto;border:1px solid #e0e0e0;margin:8px 0}
button{padding:4px 12px}
`;

/** A whole page: the navigation, `title`, and `body` (already escaped by its builder). */
export function page(title: string, body: string, status = 200): ConsoleResponse {
  return {
    status,
    body: `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · lockstep console</title><style>${CSS}</style></head>
<body><header><strong>lockstep console</strong><a href="/sagas">Sagas</a><a href="/attention">Needs attention</a><a href="/workers">Recovery workers</a><a href="/events">Operator events</a></header>
<main><h1>${esc(title)}</h1>
${body}
</main></body></html>`,
  };
}

/** A page that says what went wrong, with the status it is sent with. */
export function problemPage(status: number, title: string, message: string): ConsoleResponse {
  return page(
    title,
    `<p class="notice error" data-problem="${status}">${esc(message)}</p>`,
    status,
  );
}

/** A time as ISO-8601, or an em dash for none. */
export function iso(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? "—" : new Date(ms).toISOString();
}

/** A status as a coloured badge. */
export function statusBadge(status: string): string {
  return `<span class="status s-${esc(status)}">${esc(status)}</span>`;
}

/** `value` as indented JSON, escaped, in a `<pre>`. */
export function jsonBlock(value: unknown, testId: string): string {
  return `<pre data-testid="${esc(testId)}">${esc(JSON.stringify(value, null, 2) ?? "undefined")}</pre>`;
}

/** A link to a saga's page. */
export function sagaLink(sagaId: string): string {
  return `<a href="/sagas/${encodeURIComponent(sagaId)}">${esc(sagaId)}</a>`;
}
