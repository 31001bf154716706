import { runChild } from "../support/child.js";
import { ms, perSec, type Row, targetAtLeast } from "../support/report.js";
import type { Summary } from "../support/stats.js";
import type { DbosResult } from "./b3-dbos-child.js";

const STEPS = 3;

/** B3: runs the side-by-side comparison in its own process and turns it into rows. */
export async function benchDbos(): Promise<{ rows: Row[]; note: string }> {
  const result = await runChild<DbosResult>("bench/workloads/b3-dbos-child.ts", {
    timeoutMs: 240_000,
  });
  if (
    result.error !== undefined ||
    result.serial === undefined ||
    result.concurrent === undefined
  ) {
    return {
      rows: [
        {
          id: "B3",
          what: "lockstep vs DBOS: not measured, DBOS failed in this run (see below)",
          lockstep: "–",
          baseline: "–",
          ratio: undefined,
          ratioIs: "",
        },
      ],
      note: `DBOS could not be run: \n\n\`\`\`\n${result.error ?? "no result"}\n\`\`\``,
    };
  }
  const rows: Row[] = [];
  const pick = (r: Record<string, Summary>, name: string) => r[name] as Summary;
  for (const [label, r] of [
    ["1", result.serial],
    ["16", result.concurrent],
  ] as const) {
    const ours = pick(r, "lockstep");
    const dbos = pick(r, "dbos");
    const raw = pick(r, "raw");
    const ratio = ours.opsPerSec / dbos.opsPerSec;
    rows.push({
      id: "B3",
      what: `3-step workflow on Postgres, ${label} concurrent starter${label === "1" ? "" : "s"}: throughput (workflows/s; no workflow: ${perSec(raw.opsPerSec)})`,
      lockstep: perSec(ours.opsPerSec),
      baseline: `${perSec(dbos.opsPerSec)} (DBOS ${result.dbosVersion})`,
      ratio,
      ratioIs: "lockstep ÷ DBOS throughput",
      ...(label === "16" ? targetAtLeast(1.5, ratio) : {}),
    });
  }
  const serialRaw = pick(result.serial, "raw");
  const above = (s: Summary) => (s.p50Ms - serialRaw.p50Ms) / STEPS;
  const ours = above(pick(result.serial, "lockstep"));
  const dbos = above(pick(result.serial, "dbos"));
  rows.push({
    id: "B3",
    what: `per-step latency above a raw insert, 1 starter (median workflow − median 3 raw inserts (${ms(serialRaw.p50Ms)}), ÷ 3)`,
    lockstep: ms(ours),
    baseline: `${ms(dbos)} (DBOS)`,
    ratio: ours / dbos,
    ratioIs: "lockstep ÷ DBOS time",
  });
  const ours16 = pick(result.concurrent, "lockstep");
  const dbosCpu = pick(result.concurrent, "dbos");
  rows.push({
    id: "B3",
    what: "CPU of the application process per workflow, 16 starters (Postgres's CPU not included)",
    lockstep: ms(ours16.cpuMsPerOp),
    baseline: `${ms(dbosCpu.cpuMsPerOp)} (DBOS)`,
    ratio: ours16.cpuMsPerOp / dbosCpu.cpuMsPerOp,
    ratioIs: "lockstep ÷ DBOS CPU",
  });
  const co = pick(result.concurrent, "lockstep co-committed");
  const dbos16 = pick(result.concurrent, "dbos");
  rows.push({
    id: "B3",
    what: "for reference, not like for like: lockstep with the steps co-committed on its log's database, 16 starters: throughput",
    lockstep: perSec(co.opsPerSec),
    baseline: `${perSec(dbos16.opsPerSec)} (DBOS runStep)`,
    ratio: co.opsPerSec / dbos16.opsPerSec,
    ratioIs: "lockstep ÷ DBOS throughput",
  });
  return { rows, note: "" };
}
