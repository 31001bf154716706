/**
 * The runtime matrix: runs the same conformance suites, the crash-point explorer on a memory saga
 * and a SIGKILL crash case on Node, Bun and Deno from the published build (dist/), prints each
 * runtime's case counts per group, and fails if any runtime ran fewer cases than the same files
 * register on Node, or any case failed. `npx tsx test/runtimes/run-matrix.ts [node|bun|deno…]`
 * (after `npm run build`); test/runtimes/matrix.test.ts runs it under vitest.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import process from "node:process";
import { runProgram } from "../support/run-program.js";
import { buildCrashChild, buildMatrix, ROOT, type Runtime } from "./matrix-build.js";
import { commandFor } from "./matrix-command.js";

/** The groups each runtime runs. SQLite is better-sqlite3 on Node and bun:sqlite on Bun. */
export const GROUPS: Readonly<Record<Runtime, readonly string[]>> = {
  node: ["memory", "sqlite", "postgres", "redis", "http", "crash-explorer", "sigkill"],
  bun: ["memory", "sqlite", "postgres", "redis", "http", "crash-explorer", "sigkill"],
  // better-sqlite3 is a V8 (nan) addon Deno cannot load, so Deno has no SQLite group, and its
  // SIGKILL case runs on the Postgres log and two Postgres schemas.
  deno: ["memory", "postgres", "redis", "http", "crash-explorer", "sigkill"],
};

/** grove's recipes (test/runtimes/grove-bun.test.ts): not part of every runtime's matrix. */
export const GROVE: readonly string[] = ["grove"];

export interface CaseOutcome {
  readonly group: string;
  readonly name: string;
  readonly passed: boolean;
  readonly ms?: number;
  readonly error?: string;
}

export interface RuntimeRun {
  readonly runtime: Runtime;
  readonly outcomes: readonly CaseOutcome[];
  readonly exitCode: number | null;
  readonly stderr: string;
  /** Wall time of each group's process, in ms. */
  readonly wall?: Readonly<Record<string, number>>;
}

/**
 * How many group processes run at once. The Postgres group waits on the server most of its time and
 * the crash groups are busy in their own processes, so overlapping them shortens the run even on two
 * cores; longer groups start first.
 */
const AT_ONCE = 3;
const LONGEST_FIRST = [
  "postgres",
  "sigkill",
  "crash-explorer",
  "sqlite",
  "redis",
  "http",
  "memory",
];

/** Runs `groups` on `runtime`, each group in a process of its own, and collects every outcome. */
export async function runOn(runtime: Runtime, groups = GROUPS[runtime]): Promise<RuntimeRun> {
  const tag = `${runtime}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const [file, childProgram] = await Promise.all([
    buildMatrix(runtime, tag),
    buildCrashChild(runtime, tag),
  ]);
  try {
    const order = [...groups].sort((a, b) => LONGEST_FIRST.indexOf(a) - LONGEST_FIRST.indexOf(b));
    const runs: RuntimeRun[] = [];
    let next = 0;
    const worker = async () => {
      while (next < order.length) {
        const group = order[next++] as string;
        runs.push(await runGroup(runtime, file, childProgram, group));
      }
    };
    await Promise.all(Array.from({ length: AT_ONCE }, worker));
    // Outcomes in the order the groups were asked for, as one process would have reported them.
    const rank = (g: string) => groups.indexOf(g);
    const outcomes = runs.flatMap((r) => r.outcomes).sort((a, b) => rank(a.group) - rank(b.group));
    const failed = runs.filter((r) => r.exitCode !== 0);
    return {
      runtime,
      outcomes,
      exitCode: failed[0]?.exitCode ?? 0,
      stderr: failed.map((r) => r.stderr).join("\n"),
      wall: Object.assign({}, ...runs.map((r) => r.wall)),
    };
  } finally {
    rmSync(file, { force: true });
    rmSync(childProgram, { force: true });
  }
}

async function runGroup(
  runtime: Runtime,
  file: string,
  childProgram: string,
  group: string,
): Promise<RuntimeRun> {
  const started = Date.now();
  const { code, stdout, stderr } = await runProgram(commandFor(runtime, file), {
    cwd: ROOT,
    env: {
      LOCKSTEP_MATRIX_GROUPS: group,
      LOCKSTEP_MATRIX_RUNTIME: runtime,
      LOCKSTEP_MATRIX_CHILD_PROGRAM: childProgram,
      LOCKSTEP_MATRIX_ROOT: ROOT,
      NO_COLOR: "1",
    },
  });
  const line = stdout.split("\n").find((l) => l.startsWith("LOCKSTEP_MATRIX_RESULT "));
  const outcomes =
    line === undefined
      ? []
      : (JSON.parse(line.slice("LOCKSTEP_MATRIX_RESULT ".length)) as CaseOutcome[]);
  return {
    runtime,
    outcomes,
    exitCode: code,
    stderr: `${group}: ${stderr}${line === undefined ? stdout : ""}`,
    wall: { [group]: Date.now() - started },
  };
}

/**
 * How many cases each group registers on Node, from the same files, without running them: the
 * count every runtime must reach.
 */
export async function declaredOnNode(groups = GROUPS.node): Promise<Record<string, number>> {
  const file = await buildMatrix("node", `list-${process.pid}-${randomBytes(3).toString("hex")}`);
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
      rmSync(file, { force: true });
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
export function problemsOf(
  run: RuntimeRun,
  declared: Record<string, number>,
  groups = GROUPS[run.runtime],
): string[] {
  const problems: string[] = [];
  if (run.exitCode !== 0)
    problems.push(`${run.runtime} exited with ${run.exitCode}: ${run.stderr.slice(-2000)}`);
  const mine = countsOf(run);
  for (const group of groups) {
    const have = mine[group]?.cases ?? 0;
    const want = declared[group] ?? Number.POSITIVE_INFINITY;
    if (have < want) problems.push(`${run.runtime} ran ${have} ${group} cases, Node ${want}`);
  }
  for (const o of run.outcomes) {
    if (!o.passed) problems.push(`${run.runtime} ${o.group}: ${o.name} failed: ${o.error ?? ""}`);
  }
  return problems;
}

/**
 * The count lines CI prints: `[matrix] bun memory: 69 cases, 69 passed (node declares 69) in 1.2 s`
 * (the group process's wall time, for reading only: nothing is asserted on it).
 */
export function report(
  run: RuntimeRun,
  declared: Record<string, number>,
  groups = GROUPS[run.runtime],
): string[] {
  const mine = countsOf(run);
  return groups.map((group) => {
    const c = mine[group] ?? { cases: 0, passed: 0 };
    const wall = run.wall?.[group];
    const took = wall === undefined ? "" : ` in ${(wall / 1000).toFixed(1)} s`;
    return `[matrix] ${run.runtime} ${group}: ${c.cases} cases, ${c.passed} passed (node declares ${declared[group] ?? 0})${took}`;
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
