/**
 * One line of the results table, and its rendering. Every figure is paired with a baseline measured
 * in the same run, and the ratio says which way is better, so no row can be read without its
 * reference point.
 */
export interface Row {
  /** The workload, "B1" … "B5". */
  readonly id: string;
  /** What was measured, e.g. "runAtomic, SQLite, 1 at a time: median latency". */
  readonly what: string;
  /** lockstep's figure, already formatted with its unit. */
  readonly lockstep: string;
  /** The baseline's figure, formatted, with the baseline's name. */
  readonly baseline: string;
  /** The ratio as a number, or undefined for a row that is a count rather than a comparison. */
  readonly ratio: number | undefined;
  /** How the ratio reads: "lockstep ÷ baseline time" and so on. */
  readonly ratioIs: string;
  /** The target as text (e.g. "≤ 1.10"), if the brief sets one. */
  readonly target?: string;
  /** Whether the target is met, if there is one. */
  readonly met?: boolean;
}

/** A target the ratio must not exceed, or must reach. */
export function targetAtMost(limit: number, ratio: number): Pick<Row, "target" | "met"> {
  return { target: `≤ ${limit.toFixed(2)}`, met: ratio <= limit };
}
export function targetAtLeast(limit: number, ratio: number): Pick<Row, "target" | "met"> {
  return { target: `≥ ${limit.toFixed(2)}`, met: ratio >= limit };
}

export const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`;
export const perSec = (value: number) => `${value.toFixed(0)}/s`;
export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
export const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** The results as a markdown table. */
export function renderTable(rows: readonly Row[]): string {
  const lines = [
    "| | measured | lockstep | baseline | ratio | ratio is | target | met |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    const ratio = r.ratio === undefined ? "–" : r.ratio.toFixed(2);
    const met = r.met === undefined ? "" : r.met ? "yes" : "**no**";
    lines.push(
      `| ${r.id} | ${r.what} | ${r.lockstep} | ${r.baseline} | ${ratio} | ${r.ratioIs} | ${r.target ?? ""} | ${met} |`,
    );
  }
  return lines.join("\n");
}
