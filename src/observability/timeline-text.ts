import type { SagaSnapshot } from "../model/records.js";
import { sagaTimeline } from "./saga-timeline.js";
import { timelineLayout } from "./timeline-lanes.js";

/** The symbol each entry type is drawn with, shared with the legend. */
const SYMBOLS: Readonly<Record<string, string>> = {
  intent: "▶",
  committed: "✔",
  not_committed: "✘",
  unknown: "?",
  compensation_intent: "◀",
  compensated: "↺",
  compensation_skipped: "·",
  compensation_failed: "!",
  guard_failed: "⊘",
  operator: "◆",
};

/** The legend printed under the lanes. */
export const TIMELINE_TEXT_LEGEND =
  "▶ intent  ✔ committed  ✘ not committed  ? unknown  ◀ compensation  ↺ compensated  · skipped  ! compensation failed  ⊘ guard failed  ◆ operator  ┃ takeover (new fencing token)";

const CELL = 2;

/**
 * Draws a saga's timeline as text, one lane per step: every log entry gets a column of its own,
 * in log order, so no two entries ever hide each other; an attempt is joined from its intent to its
 * outcome (`▶─✔`), a compensation likewise (`◀─↺`), and a `┃` over the columns marks where the
 * fencing token rose (another runner took the saga over), with the new token above it. Returns the
 * lines joined by newlines; `""` when the saga has no entries. A pure function.
 *
 * @example
 * ```ts
 * const snapshot = await log.load(sagaId);
 * if (snapshot !== undefined) console.log(renderTimelineText(snapshot));
 * //          tokens   1          2
 * //          reserve  ▶─✔         ◀─↺
 * //          charge       ▶─?  ┃ ✘
 * ```
 */
export function renderTimelineText(snapshot: SagaSnapshot): string {
  const timeline = sagaTimeline(snapshot);
  if (timeline.entries.length === 0) return "";
  const layout = timelineLayout(timeline);
  const column = new Map(timeline.entries.map((e, i) => [e.seq, i]));
  const width = timeline.entries.length * CELL;
  const labelWidth = Math.max(6, ...layout.lanes.map((l) => l.step.length));
  const row = () => Array.from({ length: width }, () => " ");
  const tokens = row();
  const takeoverAt = new Set<number>();
  let previous = 0;
  timeline.entries.forEach((e, i) => {
    if (e.token !== previous) {
      for (const [k, ch] of [...String(e.token)].entries()) {
        if (i * CELL + k < width) tokens[i * CELL + k] = ch;
      }
      previous = e.token;
    }
    if (e.takeover) takeoverAt.add(i);
  });
  const lines = [`${"tokens".padEnd(labelWidth)}  ${tokens.join("").trimEnd()}`];
  for (const lane of layout.lanes) {
    const cells = row();
    for (const i of takeoverAt) if (i > 0) cells[i * CELL - 1] = "┃";
    for (const span of lane.spans) {
      const cols = span.entries.map((e) => column.get(e.seq) as number);
      const first = Math.min(...cols) * CELL;
      const last = Math.max(...cols) * CELL;
      for (let c = first + 1; c < last; c++) if (cells[c] === " ") cells[c] = "─";
      for (const e of span.entries) {
        cells[(column.get(e.seq) as number) * CELL] = SYMBOLS[e.type] ?? "•";
      }
    }
    for (const e of lane.marks)
      cells[(column.get(e.seq) as number) * CELL] = SYMBOLS[e.type] ?? "•";
    lines.push(`${lane.step.padEnd(labelWidth)}  ${cells.join("").trimEnd()}`);
  }
  return lines.join("\n");
}
