/**
 * Turns Stryker's JSON report into docs/mutation.md: the mutation score per file and per folder,
 * with the date and commit it was measured at, and the surviving mutants judged equivalent (listed
 * with a reason in mutation/equivalent.json), which the score leaves out.
 *
 * `npm run mutation` runs Stryker through it (`--run`, passing on any further arguments), timing the
 * run; `npm run mutation:table` writes the table from the last report alone.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { z } from "zod";

const REPORT = "reports/mutation/mutation.json";
const OUT = "docs/mutation.md";
const EQUIVALENT = "mutation/equivalent.json";
/** The score each folder must reach (killed and timed out over every mutant not equivalent). */
const TARGET = 85;

const statusSchema = z.enum([
  "Killed",
  "Survived",
  "NoCoverage",
  "CompileError",
  "RuntimeError",
  "Timeout",
  "Ignored",
  "Pending",
]);
const mutantSchema = z.object({
  id: z.string(),
  mutatorName: z.string(),
  replacement: z.string().optional(),
  status: statusSchema,
  location: z.object({ start: z.object({ line: z.number(), column: z.number() }) }),
});
const reportSchema = z.object({
  config: z.object({ mutate: z.array(z.string()).optional() }).optional(),
  files: z.record(z.string(), z.object({ mutants: z.array(mutantSchema) })),
});
const equivalentSchema = z.array(
  z.object({
    file: z.string(),
    line: z.number().int().positive(),
    mutator: z.string(),
    replacement: z.string(),
    reason: z.string().min(1),
  }),
);

type Mutant = z.infer<typeof mutantSchema>;
type Equivalent = z.infer<typeof equivalentSchema>[number];

interface Tally {
  killed: number;
  timeout: number;
  survived: number;
  noCoverage: number;
  equivalent: number;
  /** Static mutants, which Stryker is told not to run (see stryker.config.mjs): not scored. */
  ignored: number;
  /** Mutants that did not compile or crashed the run: not scored, as in Stryker's own score. */
  errors: number;
}

const empty = (): Tally => ({
  killed: 0,
  timeout: 0,
  survived: 0,
  noCoverage: 0,
  equivalent: 0,
  ignored: 0,
  errors: 0,
});

function add(into: Tally, from: Tally): void {
  for (const key of Object.keys(into) as (keyof Tally)[]) into[key] += from[key];
}

/** Killed and timed out over every mutant that was tested or left uncovered, equivalents aside. */
function score(t: Tally): number | undefined {
  const valid = t.killed + t.timeout + t.survived + t.noCoverage;
  return valid === 0 ? undefined : (100 * (t.killed + t.timeout)) / valid;
}

/** Every mutant Stryker made, whatever became of it. */
const count = (t: Tally) => Object.values(t).reduce((sum, n) => sum + n, 0);

const formatScore = (value: number | undefined) =>
  value === undefined ? "–" : `${value.toFixed(1)}%`;

function sameMutant(file: string, mutant: Mutant, entry: Equivalent): boolean {
  return (
    entry.file === file &&
    entry.line === mutant.location.start.line &&
    entry.mutator === mutant.mutatorName &&
    entry.replacement === (mutant.replacement ?? "")
  );
}

function git(...args: string[]): string {
  return execFileSync("git", args, { encoding: "utf8" }).trim();
}

function row(name: string, t: Tally): string {
  const cells = [t.killed, t.timeout, t.survived, t.noCoverage, t.equivalent, t.ignored];
  return `| ${name} | ${cells.join(" | ")} | ${formatScore(score(t))} |`;
}

/** How long Stryker ran, in milliseconds, when this script ran it. */
let elapsedMs: number | undefined;
/** Whether that run reused earlier results (Stryker's incremental mode, see stryker.config.mjs). */
const incremental =
  !process.argv.includes("--force") && existsSync("reports/mutation/stryker-incremental.json");
if (process.argv[2] === "--run") {
  const started = Date.now();
  // The tests write real SQLite files in the temporary directory, and each commit waits on the
  // disk; in memory (tmpfs), a mutant's run is bounded by the CPU instead.
  const env =
    process.env.TMPDIR === undefined && existsSync("/dev/shm")
      ? { ...process.env, TMPDIR: "/dev/shm" }
      : process.env;
  const run = spawnSync("npx", ["stryker", "run", ...process.argv.slice(3)], {
    stdio: "inherit",
    env,
  });
  if (run.status !== 0) process.exit(run.status ?? 1);
  elapsedMs = Date.now() - started;
}

const report = reportSchema.parse(JSON.parse(readFileSync(REPORT, "utf8")));
const equivalents = equivalentSchema.parse(JSON.parse(readFileSync(EQUIVALENT, "utf8")));
const used = new Set<Equivalent>();
const byFile = new Map<string, Tally>();
const survivors: string[] = [];

for (const [file, { mutants }] of Object.entries(report.files).sort(([a], [b]) =>
  a.localeCompare(b),
)) {
  const tally = empty();
  for (const mutant of mutants) {
    const missed = mutant.status === "Survived" || mutant.status === "NoCoverage";
    const equivalent = missed ? equivalents.find((e) => sameMutant(file, mutant, e)) : undefined;
    if (equivalent !== undefined) {
      used.add(equivalent);
      tally.equivalent++;
      continue;
    }
    if (mutant.status === "Killed") tally.killed++;
    else if (mutant.status === "Timeout") tally.timeout++;
    else if (mutant.status === "Survived") tally.survived++;
    else if (mutant.status === "NoCoverage") tally.noCoverage++;
    else if (mutant.status === "Ignored") tally.ignored++;
    else if (mutant.status === "CompileError" || mutant.status === "RuntimeError") tally.errors++;
    if (missed) {
      const replacement = (mutant.replacement ?? "").replace(/\s+/g, " ").slice(0, 60);
      survivors.push(
        `| ${file}:${mutant.location.start.line} | ${mutant.mutatorName} | \`${replacement.replaceAll("|", "\\|").replaceAll("`", "'")}\` | ${mutant.status === "NoCoverage" ? "no coverage" : "survived"} |`,
      );
    }
  }
  byFile.set(file, tally);
}

const folderOf = (file: string) => file.split("/").slice(0, 2).join("/");
const byFolder = new Map<string, Tally>();
const total = empty();
for (const [file, tally] of byFile) {
  const folder = byFolder.get(folderOf(file)) ?? empty();
  add(folder, tally);
  byFolder.set(folderOf(file), folder);
  add(total, tally);
}

// An entry for a file this report did not mutate can be neither used nor judged stale.
const stale = equivalents.filter((e) => byFile.has(e.file) && !used.has(e));
/** What the run mutated, when it was told to mutate less than stryker.config.mjs says. */
const FULL_SCOPE = [
  "src/core/**/*.ts",
  "src/log/**/*.ts",
  "src/recovery/**/*.ts",
  "src/model/**/*.ts",
];
const scope = report.config?.mutate ?? FULL_SCOPE;
const partial = scope.join(",") !== FULL_SCOPE.join(",");
const commit = git("rev-parse", "--short", "HEAD");
const dirty =
  git("status", "--porcelain", "--untracked-files=no") === "" ? "" : " (with uncommitted changes)";
const date = new Date().toISOString().slice(0, 10);
const timing =
  elapsedMs === undefined
    ? ""
    : ` The Stryker run that measured it took ${(elapsedMs / 60_000).toFixed(0)} minutes${!incremental ? "" : " (incremental: mutants whose code and tests had not changed kept their earlier result)"}.`;
const head =
  "| | killed | timeout | survived | no coverage | equivalent | static | score |\n|---|--:|--:|--:|--:|--:|--:|--:|";
const folders = [...byFolder].map(([folder, t]) => row(`\`${folder}\``, t));
const files = [...byFile].map(([file, t]) => row(`\`${file}\``, t));
const unmet = [...byFolder].filter(([, t]) => (score(t) ?? 100) < TARGET).map(([f]) => f);

const lines = [
  "# Mutation testing",
  "",
  "<!-- Written by scripts/mutation-table.ts from Stryker's report: run `npm run mutation` rather than editing it. -->",
  "",
  "How well lockstep's own tests pin down its core: Stryker changes the code of `src/core`, `src/log`,",
  "`src/recovery` and `src/model` one small mutation at a time (a `>=` made `>`, a condition made",
  "`true`, a block emptied) and runs the tests that reach each change. A mutant the tests notice is",
  "*killed* (or *timeout*, when it made a test hang); one they do not notice *survived*, and one no",
  "test even reaches has *no coverage*. The score is killed and timed out over all mutants, leaving",
  "out those judged *equivalent*: surviving mutants that no test can notice because they do not",
  "change what lockstep does (listed below, each with its reason, from `mutation/equivalent.json`).",
  "*Static* mutants change only what a module computes as it loads (a constant, a schema); testing",
  "one means reloading everything and running every test, so Stryker is told to skip them, and they",
  "are counted here but not scored.",
  `The goal is at least ${TARGET}% in each folder.`,
  "",
  `Measured on ${date} at commit \`${commit}\`${dirty}: ${count(total)} mutants, score ${formatScore(score(total))}.${timing}`,
  ...(unmet.length === 0
    ? []
    : ["", `Below ${TARGET}%: ${unmet.map((f) => `\`${f}\``).join(", ")}.`]),
  ...(partial
    ? [
        "",
        `This report covers part of the code: the run that wrote it mutated ${scope.map((p) => `\`${p}\``).join(", ")} alone.`,
      ]
    : []),
  "",
  "## Per folder",
  "",
  head,
  ...folders,
  row("**all**", total),
  "",
  "## Per file",
  "",
  head,
  ...files,
  "",
  "## Equivalent mutants",
  "",
  ...(used.size === 0
    ? ["None judged equivalent."]
    : [
        "| where | mutator | replacement | why no test can notice it |",
        "|---|---|---|---|",
        ...[...used].map(
          (e) =>
            `| ${e.file}:${e.line} | ${e.mutator} | \`${e.replacement.replaceAll("|", "\\|")}\` | ${e.reason} |`,
        ),
      ]),
  "",
  "## Surviving mutants",
  "",
  ...(survivors.length === 0
    ? ["None."]
    : [
        "Each is a change to lockstep that every test still passes: a test to write, or, once judged,",
        "an entry in `mutation/equivalent.json`.",
        "",
        "| where | mutator | replacement | status |",
        "|---|---|---|---|",
        ...survivors,
      ]),
  "",
  "## Running it",
  "",
  "`npm run mutation` runs Stryker (`stryker.config.mjs`: the vitest runner, per-test coverage, two",
  "workers; the tests' temporary SQLite files in memory, under /dev/shm, when TMPDIR is not set),",
  "times it, and writes this page (`scripts/mutation-table.ts`). Stryker keeps its results",
  "in `reports/mutation/stryker-incremental.json` and, on the next run, tests again only the mutants",
  "whose code or covering tests changed; `npm run mutation -- --force` starts afresh. The HTML",
  "report, mutant by mutant, is `reports/mutation/mutation.html`. To look at a few files,",
  '`npm run mutation -- --mutate "src/core/run-atomic.ts"`: this page and the incremental results',
  "then cover those files alone, so the next full run tests the others afresh. It is not part of",
  "CI's default run.",
  "",
  "Where a full run's time goes (measured on the run of 2026-12-08 at `300dd57`, 68 minutes): the",
  "median killed mutant is killed by the first test it runs, yet each mutant's run costs close to a",
  "second, since vitest starts a worker and loads lockstep's modules afresh for every run (an empty",
  "test file alone takes 0.13 s, one that imports lockstep 0.3 s, before Stryker's instrumentation",
  "makes the modules larger); the 260 or so mutants that survive, most of them equivalent, each run",
  "every test that reaches them, up to half a minute for code every saga runs; 35 mutants that made",
  "a test wait forever were killed only when it timed out, then after 30 s, now after 5 s",
  "(`vitest.mutation.config.ts`); and 17 that loop forever were stopped by Stryker's own timeout,",
  "then 10 s past its allowance, now 3 s. The next full run, at `8d36c16`, took 57 minutes.",
  "",
  "## Which tests run",
  "",
  "Those of `vitest.mutation.config.ts`, chosen by coverage: V8's block coverage of the four",
  "folders, per test file, over every suite whose lockstep code runs in the test's own process. The",
  "suites on memory, SQLite, libSQL and fake stores reach 99.5% of what all of them reach, in an",
  "eighth of the time; a few suites on real services that reach code none of those does (a store",
  "identity on Postgres, a conflict read back, a resubmission race) are added by name. Left out: the",
  "other suites on Postgres, MySQL, Redis, the brokers and D1, the long simulations and crash",
  "explorations of `lockstep/testing` (the docs' example among them), whose coverage of this code",
  "is a subset; the suites that spend seconds waiting on real locks, timers or a second runtime (a",
  "late landing on Postgres, the MySQL recipe scenarios, a late D1 batch, the recovery race, the",
  "event-loop suite), because every surviving mutant they reach runs them again (with them, Stryker",
  "put a full run at over four hours); the suites whose lockstep code runs in another process, a",
  "browser or a worker",
  "(the CLI, the crash and multiprocess worlds, the runtime matrix, workerd, the packed package, the",
  "docs' examples, the demo), from which Stryker sees no coverage; and the chaos suite. Those suites",
  "still run in CI; what only they reach shows here as *no coverage*. Within a",
  "mutant's run, the tests that failed last run first, then the quickest, and modules load once per",
  "worker: Stryker switches mutants at run time.",
  "",
];
if (stale.length > 0) {
  lines.push(
    "## Stale equivalents",
    "",
    "These entries of `mutation/equivalent.json` match no surviving mutant of this report (the code",
    "moved, or a test now kills them):",
    "",
    ...stale.map((e) => `- ${e.file}:${e.line} ${e.mutator} \`${e.replacement}\``),
    "",
  );
}
writeFileSync(OUT, lines.join("\n"));
console.log(
  `${OUT}: ${formatScore(score(total))} over ${byFile.size} files; ${survivors.length} survivors, ${used.size} equivalent, ${stale.length} stale equivalents.`,
);
