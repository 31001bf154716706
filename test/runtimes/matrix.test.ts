import { beforeAll, describe, expect, it } from "vitest";
import { countsOf, declaredOnNode, GROUPS, problemsOf, report, runOn } from "./run-matrix.js";

// The same suite files as the vitest run, on Bun and Deno, from the published build (dist/, which
// CI builds before the tests). Each runtime's counts are printed and must reach Node's.
let declared: Record<string, number>;

beforeAll(async () => {
  declared = await declaredOnNode();
  console.log(`[matrix] node declares ${JSON.stringify(declared)}`);
}, 60_000);

describe("the runtime matrix", () => {
  it("Node registers every group, each with cases", () => {
    expect(Object.keys(declared).sort()).toEqual([...GROUPS.node].sort());
    for (const group of GROUPS.node) expect(declared[group], group).toBeGreaterThan(0);
  });

  for (const runtime of ["bun", "deno"] as const) {
    it(`${runtime} runs as many cases as Node declares in each of its groups, all passing`, async () => {
      const run = await runOn(runtime);
      for (const line of report(run, declared)) console.log(line);
      expect(problemsOf(run, declared)).toEqual([]);
      const counts = countsOf(run);
      expect(Object.keys(counts).sort()).toEqual([...GROUPS[runtime]].sort());
    }, 180_000);
  }
});
