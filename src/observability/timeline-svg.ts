import type { SagaSnapshot } from "../model/records.js";
import { escapeMarkup as esc } from "./escape-markup.js";
import { sagaTimeline, type TimelineEntry } from "./saga-timeline.js";
import { type SpanEnd, type TimelineSpan, timelineLayout } from "./timeline-lanes.js";

/** Options of {@link renderTimelineSvg}. */
export interface TimelineSvgOptions {
  /**
   * The drawing's width in pixels; the height follows from the number of steps.
   * @default 960
   */
  readonly width?: number;
}

/** The fill of a span by how it ended, shared with the legend. */
const COLORS: Readonly<Record<SpanEnd, string>> = {
  committed: "#2e7d32",
  not_committed: "#9e9e9e",
  unknown: "#f9a825",
  open: "#fff8e1",
  compensated: "#1565c0",
  compensation_failed: "#c62828",
  guard_failed: "#6a1b9a",
};

const LEFT = 190;
const RIGHT = 40;
const TOP = 56;
const LANE = 38;
const AXIS = 64;
const MIN_BAR = 8;

/**
 * Draws a saga's timeline as a standalone SVG document: one lane per step, each attempt a bar from
 * its write-ahead intent to its outcome (green committed, grey not committed, amber unknown, pale
 * while open), probed commits marked with a diamond, compensations as thinner bars under their
 * step, operator notes in a lane of their own, and a dashed line wherever the fencing token rose
 * (another runner took the saga over), labelled with the new token. Time runs left to right from
 * the saga's creation. Every text taken from the log is escaped, so a saga input or an error message
 * holding markup shows as text. A pure function: it reads nothing but `snapshot`.
 *
 * @example
 * ```ts
 * const snapshot = await log.load(sagaId);
 * const svg = snapshot === undefined ? undefined : renderTimelineSvg(snapshot, { width: 1200 });
 * ```
 */
export function renderTimelineSvg(
  snapshot: SagaSnapshot,
  options: TimelineSvgOptions = {},
): string {
  const width = options.width ?? 960;
  if (!Number.isInteger(width) || width < 400) {
    throw new RangeError(`Expected \`width\` to be an integer >= 400, got ${String(width)}.`);
  }
  const timeline = sagaTimeline(snapshot);
  const layout = timelineLayout(timeline);
  const plot = width - LEFT - RIGHT;
  const span = Math.max(1, layout.end - layout.start);
  const x = (t: number) => LEFT + ((t - layout.start) / span) * plot;
  const height = TOP + layout.lanes.length * LANE + AXIS;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="lockstep-timeline" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" font-family="system-ui, sans-serif" font-size="12">`,
    `<title>${esc(`Saga ${timeline.saga} ${timeline.sagaId}: ${timeline.status}`)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600">${esc(timeline.saga)} <tspan font-weight="400" fill="#555">v${timeline.version} · ${esc(timeline.sagaId)}</tspan></text>`,
    `<text x="12" y="42" fill="#333" data-kind="status">${esc(timeline.status)} · fencing token ${timeline.lease.token} · ${layout.end - layout.start} ms</text>`,
  );
  layout.lanes.forEach((lane, i) => {
    const y = TOP + i * LANE;
    out.push(
      `<g class="lane" data-step="${esc(lane.step)}">`,
      `<rect x="0" y="${y}" width="${width}" height="${LANE}" fill="${i % 2 === 0 ? "#fafafa" : "#f0f0f0"}"/>`,
      `<text x="12" y="${y + 16}" font-weight="600">${esc(clip(lane.step, 24))}</text>`,
      `<text x="12" y="${y + 30}" fill="#666" font-size="10">${esc(lane.kind)}</text>`,
    );
    for (const s of lane.spans) out.push(spanSvg(s, x, y));
    for (const m of lane.marks) out.push(markSvg(m, x(m.at), y));
    out.push("</g>");
  });
  const bottom = TOP + layout.lanes.length * LANE;
  for (const t of layout.takeovers) {
    const tx = x(t.at).toFixed(1);
    out.push(
      `<g data-kind="takeover" data-token="${t.token}"><line x1="${tx}" x2="${tx}" y1="${TOP - 8}" y2="${bottom}" stroke="#d84315" stroke-width="1.5" stroke-dasharray="4 3"/>`,
      `<text x="${tx}" y="${TOP - 10}" fill="#d84315" font-size="10" text-anchor="middle">token ${t.token}</text><title>${esc(`Takeover: entry ${t.seq} was written under fencing token ${t.token}`)}</title></g>`,
    );
  }
  out.push(
    `<line x1="${LEFT}" x2="${LEFT + plot}" y1="${bottom + 6}" y2="${bottom + 6}" stroke="#888"/>`,
    `<text x="${LEFT}" y="${bottom + 20}" fill="#555" font-size="10">${esc(new Date(layout.start).toISOString())}</text>`,
    `<text x="${LEFT + plot}" y="${bottom + 20}" fill="#555" font-size="10" text-anchor="end">+${layout.end - layout.start} ms</text>`,
    legend(bottom + 44),
    "</svg>",
  );
  return out.join("\n");
}

function spanSvg(s: TimelineSpan, x: (t: number) => number, laneY: number): string {
  const compensation = s.kind === "compensation";
  const y = laneY + (compensation ? 23 : 6);
  const h = compensation ? 9 : 14;
  const x0 = x(s.from);
  const w = Math.max(MIN_BAR, x(s.to) - x0);
  const title = s.entries.map(entryLine).join("\n");
  const dashed = s.end === "open" ? ` stroke-dasharray="3 2"` : "";
  const parts = [
    `<g data-kind="${s.kind}" data-attempt="${s.attempt}" data-end="${s.end}" data-token="${s.token}">`,
    `<rect x="${x0.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${h}" rx="2" fill="${COLORS[s.end]}" stroke="#333" stroke-width="0.6"${dashed}/>`,
  ];
  if (!compensation && w >= 18) {
    parts.push(
      `<text x="${(x0 + 3).toFixed(1)}" y="${y + 11}" font-size="9" fill="${s.end === "open" || s.end === "unknown" ? "#000" : "#fff"}">#${s.attempt}</text>`,
    );
  }
  if (s.via === "probe") {
    const px = x0 + w;
    parts.push(
      `<polygon data-kind="probe" points="${pts([px, y - 3], [px + 5, y + h / 2], [px, y + h + 3], [px - 5, y + h / 2])}" fill="#fff" stroke="#000"/>`,
    );
  }
  parts.push(`<title>${esc(title)}</title></g>`);
  return parts.join("");
}

function markSvg(entry: TimelineEntry, mx: number, laneY: number): string {
  const cy = laneY + LANE / 2;
  const shape =
    entry.type === "operator"
      ? `<polygon points="${pts([mx, cy - 7], [mx + 7, cy], [mx, cy + 7], [mx - 7, cy])}" fill="#00838f"/>`
      : `<circle cx="${mx.toFixed(1)}" cy="${laneY + 27}" r="4" fill="#fff" stroke="#1565c0"/>`;
  return `<g data-kind="${esc(entry.type)}">${shape}<title>${esc(entryLine(entry))}</title></g>`;
}

/** One entry as a line of a tooltip. */
function entryLine(e: TimelineEntry): string {
  const op = e.operator;
  const detail =
    op !== undefined
      ? `: ${op.action} by ${op.actor}${op.note === "" ? "" : ` (${op.note})`}`
      : e.error !== undefined
        ? `: ${e.error.kind}: ${e.error.message}`
        : e.output !== undefined
          ? ` → ${clip(JSON.stringify(e.output) ?? "", 120)}`
          : "";
  return `#${e.seq} ${new Date(e.at).toISOString()} ${e.type}${e.via === undefined ? "" : ` (${e.via})`} attempt ${e.attempt} token ${e.token}${e.takeover ? " (takeover)" : ""}${detail}`;
}

function legend(y: number): string {
  const items: [string, string][] = [
    ["committed", COLORS.committed],
    ["not committed", COLORS.not_committed],
    ["unknown", COLORS.unknown],
    ["open", COLORS.open],
    ["compensated", COLORS.compensated],
    ["compensation failed", COLORS.compensation_failed],
    ["guard failed", COLORS.guard_failed],
  ];
  let lx = 12;
  const parts = items.map(([label, color]) => {
    const part = `<rect x="${lx}" y="${y - 9}" width="12" height="10" fill="${color}" stroke="#333" stroke-width="0.6"/><text x="${lx + 16}" y="${y}" font-size="10">${label}</text>`;
    lx += 24 + Math.ceil(label.length * 6.2);
    return part;
  });
  return `<g class="legend">${parts.join("")}</g>`;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A polygon's points, rounded to tenths of a pixel. */
function pts(...points: [number, number][]): string {
  return points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" ");
}
