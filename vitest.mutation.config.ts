import { defineConfig, mergeConfig } from "vitest/config";
import base from "./vitest.config.js";

/**
 * The tests `npm run mutation` runs against each mutant of the core, the log, recovery and the
 * model. Stryker's per-test coverage then picks, for each mutant, only the tests that reached it, so
 * this list only has to leave out suites that reach none of that code in this process, or reach it
 * only where faster suites already do (see docs/mutation.md, "Which tests run"):
 *
 * - suites whose lockstep code runs in a child process, a browser or a worker (the CLI, the crash
 *   and multiprocess worlds, the runtime matrix, workerd, the packed package, the docs' examples, the
 *   demo, the swamp): Stryker sees no coverage from them, so they would only lengthen its first run;
 * - the chaos suite (restarts real servers) and the console's browser test;
 * - type tests, which run no code.
 */
export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: ["test/**/*.test.ts"],
      exclude: [
        "test/chaos/**",
        "test/cli/**",
        "test/console/console-browser.test.ts",
        "test/console/console-cli.test.ts",
        "test/crash/**",
        "test/demo/**",
        "test/docs/**",
        "test/multiprocess/**",
        "test/package/**",
        "test/runtimes/**",
        "test/swamp/**",
        "test/workerd/**",
        "test/adapters/bun-sqlite/outside-bun.test.ts",
      ],
      typecheck: { enabled: false },
    },
  }),
);
