import { readFileSync } from "node:fs";

/** Machine-wide CPU jiffies so far (Linux), to tell whether a workload had any idle CPU left. */
function jiffies(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((sum, n) => sum + n, 0);
    // idle and iowait are the 4th and 5th fields.
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/**
 * Starts measuring how busy the whole machine's CPU is (every process, other people's included);
 * the returned function gives the busy fraction since, or NaN where /proc/stat is not available.
 */
export function cpuBusy(): () => number {
  const start = jiffies();
  return () => {
    const end = jiffies();
    if (start === undefined || end === undefined || end.total === start.total) return Number.NaN;
    return (end.busy - start.busy) / (end.total - start.total);
  };
}
