import { runChild } from "../support/child.js";
import { kib, mib, type Row, targetAtMost } from "../support/report.js";
import type { MemoryResult } from "./b5-memory-child.js";

/** B5: runs the heap measurements in a fresh `--expose-gc` process and turns them into rows. */
export async function benchMemory(): Promise<Row[]> {
  const r = await runChild<MemoryResult>("bench/workloads/b5-memory-child.ts", {
    nodeArgs: ["--expose-gc"],
    timeoutMs: 240_000,
  });
  const early = r.heapAt["20000"] as number;
  const late = r.heapAt["100000"] as number;
  const growth = late / early;
  return [
    {
      id: "B5",
      what: `heap per in-flight saga (${r.inFlight.toLocaleString("en")} sagas parked in their second step, memory log holding their records)`,
      lockstep: kib(r.bytesPerSaga),
      baseline: `${kib(r.bytesPerBareCall)} (a bare async call parked the same way)`,
      ratio: r.bytesPerSaga / r.bytesPerBareCall,
      ratioIs: "lockstep ÷ baseline bytes",
    },
    {
      id: "B5",
      what: `heap after 100,000 sagas through the memory log, pruned every 1,000 (log holds ${r.logSizeAt["100000"]} after the last prune)`,
      lockstep: mib(late),
      baseline: `${mib(early)} (after 20,000)`,
      ratio: growth,
      ratioIs: "heap at 100k ÷ heap at 20k",
      // "No growth", with 5% for the collector's noise.
      ...targetAtMost(1.05, growth),
    },
  ];
}
