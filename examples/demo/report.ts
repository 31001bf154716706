import type { FaultKind } from "./faults.js";

/** What the demo counted. */
export interface Tally {
  readonly operations: Record<string, number>;
  readonly outcomes: Record<string, number>;
  readonly faults: Record<FaultKind, number>;
  readonly recovery: Record<string, number>;
}

/** What the report shows. */
export interface ReportInput {
  readonly seed: number;
  readonly agents: number;
  readonly bounties: number;
  readonly faultRate: number;
  readonly tally: Tally;
  readonly statuses: Record<string, number>;
  readonly violations: readonly { readonly invariant: string; readonly message: string }[];
  readonly dir: string;
  readonly expectedTotal: number;
  readonly total: number;
}

const INVARIANTS: readonly [string, string][] = [
  ["I1", "no live bounty without a held reservation"],
  ["I2", "no settled bounty without its capture to the worker"],
  ["I3", "no claimed bounty without its active claim"],
  ["I4", "no active claim the bounty does not point at"],
  ["I5", "no capture for a bounty that is not being settled"],
  ["I6", "reservations end captured xor voided, to the right agent"],
  ["I7", "one handoff per routed role, none missing or duplicated"],
  ["conservation", "credits are conserved"],
];

function table(title: string, rows: readonly (readonly [string, string | number])[]): string {
  const width = Math.max(title.length, ...rows.map(([k]) => k.length));
  const lines = [`  ${title}`, `  ${"─".repeat(width + 10)}`];
  for (const [key, value] of rows)
    lines.push(`  ${key.padEnd(width)}  ${String(value).padStart(6)}`);
  if (rows.length === 0) lines.push(`  ${"(none)".padEnd(width)}`);
  return lines.join("\n");
}

const rowsOf = (record: Record<string, number>) =>
  Object.entries(record)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => (a < b ? -1 : 1));

/** Prints the report; returns whether any invariant failed. */
export function printReport(input: ReportInput): boolean {
  const { tally } = input;
  const out: string[] = [];
  out.push("");
  out.push(
    `lockstep demo — a bounty marketplace on SQLite (seed ${input.seed}, ${input.agents} agents, ${input.bounties} bounties, fault rate ${input.faultRate})`,
  );
  out.push(
    `files: ${input.dir}/marketplace.db (saga log, bounties, claims, contributions, handoffs) and ${input.dir}/ledger.db (credits)`,
  );
  out.push("");
  out.push(table("operations", rowsOf(tally.operations)));
  out.push("");
  out.push(table("faults injected", rowsOf(tally.faults)));
  out.push("");
  out.push(table("outcomes as the callers saw them", rowsOf(tally.outcomes)));
  out.push("");
  out.push(table("recovery (sagas finished or unwound)", rowsOf(tally.recovery)));
  out.push("");
  out.push(table("sagas in the log, by final status", rowsOf(input.statuses)));
  out.push("");
  out.push("  invariants");
  out.push(`  ${"─".repeat(70)}`);
  for (const [code, text] of INVARIANTS) {
    const broken = input.violations.filter((v) => v.invariant === code);
    out.push(
      `  ${broken.length === 0 ? "ok  " : "FAIL"}  ${code.padEnd(12)} ${text}${broken.length ? ` (${broken.length})` : ""}`,
    );
    for (const v of broken) out.push(`        ${v.message}`);
  }
  out.push(
    `        credits: ${input.total} held across all agents, ${input.expectedTotal} at the start`,
  );
  out.push("");
  const failed = input.violations.length > 0;
  out.push(
    failed ? `${input.violations.length} invariant violation(s): FAILED` : "every invariant holds",
  );
  out.push(`inspect the log: npx lockstep sagas list --log sqlite:${input.dir}/marketplace.db`);
  console.log(out.join("\n"));
  return failed;
}
