/**
 * The runtime matrix's program, bundled for each runtime by matrix-build.ts: it registers the same
 * suite files the vitest run registers, runs them through the vitest shim, and prints each case's
 * outcome as one JSON line (with LOCKSTEP_MATRIX_LIST set: only how many cases each group
 * registered).
 */
import process from "node:process";
import { beginGroup, registeredCounts, runRegistered } from "./vitest-shim.js";

const groups = (process.env.LOCKSTEP_MATRIX_GROUPS ?? "").split(",").filter(Boolean);
for (const group of groups) {
  beginGroup(group);
  if (group === "memory") {
    await import("../conformance/memory-stores.test.js");
    await import("../log/memory-log.test.js");
  } else if (group === "sqlite") {
    await import("../adapters/sqlite/transaction-conformance.test.js");
    await import("../log/sqlite-log.test.js");
  } else if (group === "postgres") {
    await import("../adapters/postgres/transaction-conformance.test.js");
    await import("../log/postgres-log.test.js");
  } else if (group === "redis") {
    await import("../adapters/redis/conformance.test.js");
  } else if (group === "http") {
    await import("../adapters/http/conformance.test.js");
  } else if (group === "crash-explorer") {
    await import("../testing/explore-crash-points.test.js");
  } else if (group === "grove") {
    // grove's recipes on its stores: bounties on the HTTP document store with a status index, the
    // log, claims and credits on SQLite (bun:sqlite on Bun); contribution and handoff on SQLite.
    const { httpFlavour } = await import("../recipes/bounty/http-flavour.js");
    const { bountyScenarios } = await import("../recipes/bounty/scenario-suite.js");
    const { bountyCrashPoints } = await import("../recipes/bounty/crash-suite.js");
    bountyScenarios(httpFlavour);
    bountyCrashPoints(httpFlavour);
    await import("../recipes/contribution/contribution.test.js");
  } else if (group === "sigkill") {
    await import("./sigkill-case.js");
  } else {
    throw new Error(`Unknown matrix group "${group}".`);
  }
}
if (process.env.LOCKSTEP_MATRIX_LIST !== undefined) {
  process.stdout.write(`\nLOCKSTEP_MATRIX_COUNTS ${JSON.stringify(registeredCounts())}\n`);
  process.exit(0);
}
const outcomes = await runRegistered();
process.stdout.write(`\nLOCKSTEP_MATRIX_RESULT ${JSON.stringify(outcomes)}\n`);
process.exit(0);
