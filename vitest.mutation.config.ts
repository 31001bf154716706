import { relative } from "node:path";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";
import base from "./vitest.config.js";

/**
 * Runs the test files that failed last time first, then the quickest: Stryker stops a mutant's run
 * at its first failing test, and a test that just killed a mutant is likely to kill the next one
 * in the same code. (Vitest's own order runs the slowest first, to spread them over workers.)
 */
class KillFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cache = this.ctx.cache;
    const key = (file: TestSpecification) =>
      `${file.project.name}:${relative(this.ctx.config.root, file.moduleId)}`;
    const rank = (file: TestSpecification): [number, number] => {
      const results = cache.getFileTestResults(key(file));
      if (results !== undefined) return [results.failed ? 0 : 1, results.duration];
      return [1, cache.getFileStats(key(file))?.size ?? 0];
    };
    return [...files].sort((a, b) => {
      const [failedA, costA] = rank(a);
      const [failedB, costB] = rank(b);
      return failedA - failedB || costA - costB;
    });
  }
}

/**
 * The tests `npm run mutation` runs against the mutants of the core, the log, recovery and the
 * model. Stryker's per-test coverage then picks, for each mutant, the tests that reached it; this
 * list decides which suites its first run goes through, one file at a time, which is most of a
 * run's fixed cost. It was chosen by coverage (V8's block coverage of src/core, src/log,
 * src/recovery and src/model, per test file; see docs/mutation.md, "Which tests run"):
 *
 * - every suite whose lockstep code runs in-process on memory, SQLite, libSQL or fake stores: 84
 *   files, about 90 s, reaching 99.5% of what all in-process suites reach;
 * - the few suites on real services that reach code none of those does (a store identity on
 *   Postgres, a conflict read back, a resubmission race).
 *
 * Left out: suites whose lockstep code runs in another process, a browser or a worker (the CLI,
 * crash and multiprocess worlds, the runtime matrix, workerd, the packed package, the docs'
 * examples, the demo, the swamp), from which Stryker sees no coverage; the chaos suite; and the
 * other suites on real services and the long simulations (about 12 of the 15 minutes all
 * in-process suites take), whose coverage of this code is a subset of the suites above; and the
 * suites that wait seconds on real locks, timers or a second runtime, since each surviving mutant
 * they reach runs them again (with them, Stryker put a full run at over four hours). What only they
 * reach is reported as no coverage.
 */
// Spread rather than mergeConfig, which would add these lists to the base config's instead.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      "test/unit/**/*.test.ts",
      "test/conformance/**/*.test.ts",
      "test/log/**/*.test.ts",
      "test/recovery/**/*.test.ts",
      "test/explain/**/*.test.ts",
      "test/observability/**/*.test.ts",
      "test/outbox/**/*.test.ts",
      "test/testing/**/*.test.ts",
      "test/console/console-http.test.ts",
      "test/adapters/{memory,sqlite,libsql,connection,http-api}/**/*.test.ts",
      "test/adapters/orm-aborted-write.test.ts",
      // Reach code no suite above reaches.
      "test/adapters/postgres/store-identity.test.ts",
      "test/attacks/resubmission-race.test.ts",
      "test/recipes/bounty/conflict-readback.test.ts",
    ],
    exclude: [
      "test/log/{postgres,mysql,d1}-log.test.ts",
      "test/outbox/{rabbitmq,nats}.test.ts",
      "test/testing/{simulate,explore,fast-check,real-stores,stores-unchecked,docs-example}*.test.ts",
      // Reach nothing of the mutated code in this process.
      "test/unit/architecture.test.ts",
      "test/unit/system-clock.test.ts",
      // Seconds each, waiting on real locks, timers or a second runtime, and run for every mutant
      // they reach that survives: their coverage is left to the rest (see docs/mutation.md).
      "test/unit/recovery-race.test.ts",
      "test/adapters/sqlite/event-loop.test.ts",
    ],
    typecheck: { enabled: false },
    // A mutant that makes a test wait forever is caught when the test times out. With the base
    // config's 30 s, the 35 mutants killed that way cost about 9 of a full run's 68 minutes
    // (2026-12-08); the slowest of these tests takes a third of a second, far below 5 s.
    testTimeout: 5_000,
    hookTimeout: 10_000,
    // Stryker switches mutants at run time, so modules need not be loaded afresh for each test
    // file: one load per worker makes each mutant's run several times faster.
    isolate: false,
    sequence: { sequencer: KillFirstSequencer },
  },
});
