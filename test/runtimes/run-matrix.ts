/**
 * The runtime matrix: runs the same conformance suites, the crash-point explorer on a memory saga
 * and a SIGKILL crash case on Node, Bun and Deno from the published build (dist/), prints each
 * runtime's case counts per group, and fails if any runtime ran fewer cases than the same files
 * register on Node, or any case failed. `npx tsx test/runtimes/run-matrix.ts [node|bun|deno…]`
 * (after `npm run build`); test/runtimes/matrix.test.ts runs it under vitest.
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { buildMatrix, ROOT, type Runtime } from "./matrix-build.js";
import { commandFor } from "./matrix-command.js";

/** The groups each runtime runs. SQLite is better-sqlite3 on Node and bun:sqlite on Bun. */
export const GROUPS: Readonly<Record<Runtime, readonly string[]>> = {
  node: ["memory", "sqlite", "postgres", "redis", "http", "crash-explorer", "sigkill"],
  bun: ["memory", "sqlite", "postgres", "redis", "http", "crash-explorer", "sigkill"],
  // better-sqlite3 is a V8 (nan) addon Deno cannot load, so Deno has neither the SQLite group nor
  // the SIGKILL case, whose world is two SQLite files.
  deno: ["memory", "postgres", "redis", "http", "crash-explorer"],
};

export interface CaseOutcome {
  readonly group: string;
  readonly name: string;
  readonly passed: boolean;
  readonly error?: string;
}

export interface RuntimeRun {
  readonly runtime: Runtime;
  readonly outcomes: readonly CaseOutcome[];
  readonly exitCode: number | null;
  readonly stderr: string;
}

/** Runs `groups` on `runtime` and collects every case's outcome. */
export async function runOn(runtime: Runtime, groups = GROUPS[runtime]): Promise<RuntimeRun> {
  const file = await buildMatrix(runtime);
  const [command, ...args] = commandFor(runtime, file);
  return new Promise((resolve, reject) => {
    const child = spawn(command as string, args, {
      cwd: ROOT,
      env: {
        ...process.env,
        LOCKSTEP_MATRIX_GROUPS: groups.join(","),
        LOCKSTEP_MATRIX_RUNTIME: runtime,
        NO_COLOR: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (exitCode) => {
      const line = stdout.split("\n").find((l) => l.startsWith("LOCKSTEP_MATRIX_RESULT "));
      const outcomes =
        line === undefined
          ? []
          : (JSON.parse(line.slice("LOCKSTEP_MATRIX_RESULT ".length)) as CaseOutcome[]);
      resolve({
        runtime,
        outcomes,
        exitCode,
        stderr: `${stderr}${line === undefined ? stdout : ""}`,
      });
    });
  });
}

/**
 * How many cases each group registers on Node, from the same files, without running them: the
 * count every runtime must reach.
 */
export async function declaredOnNode(groups = GROUPS.node): Promise<Record<string, number>> {
  const file = await buildMatrix("node");
  const [command, ...args] = commandFor("node", file);
  return new Promise((resolve, reject) => {
    const child = spawn(command as string, args, {
      cwd: ROOT,
      env: { ...process.env, LOCKSTEP_MATRIX_GROUPS: groups.join(","), LOCKSTEP_MATRIX_LIST: "1" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.on("error", reject);
    child.on("close", () => {
      const line = stdout.split("\n").find((l) => l.startsWith("LOCKSTEP_MATRIX_COUNTS "));
      if (line === undefined) reject(new Error(`Node listed no cases: ${stdout}`));
      else resolve(JSON.parse(line.slice("LOCKSTEP_MATRIX_COUNTS ".length)));
    });
  });
}

/** Cases per group, and how many passed. */
export function countsOf(run: RuntimeRun): Record<string, { cases: number; passed: number }> {
  const counts: Record<string, { cases: number; passed: number }> = {};
  for (const o of run.outcomes) {
    const c = counts[o.group] ?? { cases: 0, passed: 0 };
    counts[o.group] = c;
    c.cases++;
    if (o.passed) c.passed++;
  }
  return counts;
}

/** What is wrong with `run` against Node's run: fewer cases in a group, a failed case, a crash. */
export function problemsOf(run: RuntimeRun, declared: Record<string, number>): string[] {
  const problems: string[] = [];
  if (run.exitCode !== 0)
    problems.push(`${run.runtime} exited with ${run.exitCode}: ${run.stderr.slice(-2000)}`);
  const mine = countsOf(run);
  for (const group of GROUPS[run.runtime]) {
    const have = mine[group]?.cases ?? 0;
    const want = declared[group] ?? Number.POSITIVE_INFINITY;
    if (have < want) problems.push(`${run.runtime} ran ${have} ${group} cases, Node ${want}`);
  }
  for (const o of run.outcomes) {
    if (!o.passed) problems.push(`${run.runtime} ${o.group}: ${o.name} failed: ${o.error ?? ""}`);
  }
  return problems;
}

/** The count lines CI prints: `[matrix] bun memory: 69 cases, 69 passed (node declares 69)`. */
export function report(run: RuntimeRun, declared: Record<string, number>): string[] {
  const mine = countsOf(run);
  return GROUPS[run.runtime].map((group) => {
    const c = mine[group] ?? { cases: 0, passed: 0 };
    return `[matrix] ${run.runtime} ${group}: ${c.cases} cases, ${c.passed} passed (node declares ${declared[group] ?? 0})`;
  });
}

if (
  process.argv[1] !== undefined &&
  import.meta.url.endsWith(process.argv[1].split("/").pop() ?? "")
) {
  const wanted = process.argv.slice(2) as Runtime[];
  const declared = await declaredOnNode();
  let failed = false;
  for (const runtime of wanted.length > 0 ? wanted : (["node", "bun", "deno"] as const)) {
    const run = await runOn(runtime);
    for (const line of report(run, declared)) console.log(line);
    const problems = problemsOf(run, declared);
    for (const p of problems) console.log(`[matrix] PROBLEM ${p}`);
    failed ||= problems.length > 0;
  }
  process.exitCode = failed ? 1 : 0;
}
