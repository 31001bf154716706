// Mutation testing of the core, the log, recovery and the model: `npm run mutation`.
// Not part of CI's default run; see docs/mutation.md for how to read and regenerate the results.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts", related: false },
  coverageAnalysis: "perTest",
  concurrency: 2,
  mutate: ["src/core/**/*.ts", "src/log/**/*.ts", "src/recovery/**/*.ts", "src/model/**/*.ts"],
  // A static mutant (one that only changes what a module computes when it loads: a constant, a
  // schema) can only be tested by reloading everything and running every test, a full suite's time
  // per mutant. They are reported as ignored, and counted apart in docs/mutation.md.
  ignoreStatic: true,
  // Local runs test only the mutants whose code or tests changed since the last run.
  incremental: true,
  incrementalFile: "reports/mutation/stryker-incremental.json",
  reporters: ["json", "html", "progress"],
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  htmlReporter: { fileName: "reports/mutation/mutation.html" },
  // The first run goes through every test the config includes, one file at a time.
  dryRunTimeoutMinutes: 40,
  // A mutant's run may take 1.5 times its tests' time in the first run, plus the first run's fixed
  // cost (23 s in the last run, loading the test files), plus this: a mutant that loops forever is a
  // timeout after that, and a busy machine still is not. (A test that waits forever fails sooner,
  // at vitest.mutation.config.ts's test timeout.)
  timeoutMS: 3_000,
  tempDirName: ".stryker-tmp",
  cleanTempDir: true,
  thresholds: { high: 90, low: 85, break: null },
};
