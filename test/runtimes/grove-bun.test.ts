import { expect, it } from "vitest";
import { countsOf, declaredOnNode, GROVE, problemsOf, report, runOn } from "./run-matrix.js";

// grove runs on Bun: its bounty recipes (create, claim, settle, expire, cancel) with bounties on the
// HTTP document store (ETag compare-and-set, a separate status index) and the log, claims and
// credits on bun:sqlite, under the SCENARIOS.md faults (post-commit failures, lost responses,
// crashes at every boundary with recovery) and the recipe invariants; and the contribution +
// handoff recipe on bun:sqlite. The same files the vitest run runs, from dist/, counted against Node.
it("grove's recipes run on Bun with bun:sqlite and the HTTP document store, as many cases as Node declares, all passing", async () => {
  const declared = await declaredOnNode(GROVE);
  const run = await runOn("bun", GROVE);
  for (const line of report(run, declared, GROVE)) console.log(line);
  expect(problemsOf(run, declared, GROVE)).toEqual([]);
  expect(countsOf(run).grove?.cases, "the grove group registered no cases").toBeGreaterThan(0);
}, 180_000);
