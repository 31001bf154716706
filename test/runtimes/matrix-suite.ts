import { beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "./matrix-command.js";
import { countsOf, declaredOnNode, GROUPS, problemsOf, report, runOn } from "./run-matrix.js";

/**
 * The runtime matrix for one runtime, as a vitest suite: the same suite files as the vitest run,
 * from the published build (dist/, which CI builds before the tests). The runtime's counts are
 * printed and must reach the number of cases Node registers from the same files. One test file per
 * runtime (matrix-bun.test.ts, matrix-deno.test.ts), so the runtimes run in parallel workers.
 */
export function matrixSuite(runtime: Exclude<Runtime, "node">): void {
  let declared: Record<string, number>;

  beforeAll(async () => {
    declared = await declaredOnNode();
    console.log(`[matrix] node declares ${JSON.stringify(declared)}`);
  }, 60_000);

  describe(`the runtime matrix on ${runtime}`, () => {
    it("Node registers every group, each with cases", () => {
      expect(Object.keys(declared).sort()).toEqual([...GROUPS.node].sort());
      for (const group of GROUPS.node) expect(declared[group], group).toBeGreaterThan(0);
    });

    it(`${runtime} runs as many cases as Node declares in each of its groups, all passing`, async () => {
      const run = await runOn(runtime);
      for (const line of report(run, declared)) console.log(line);
      expect(problemsOf(run, declared)).toEqual([]);
      const counts = countsOf(run);
      expect(Object.keys(counts).sort()).toEqual([...GROUPS[runtime]].sort());
    }, 180_000);
  });
}
