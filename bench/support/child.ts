import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** The line prefix a child uses to hand its JSON result back. */
export const RESULT = "result ";

/**
 * Runs a benchmark script in a child Node process (through tsx, from the repository root so
 * `lockstep/*` resolves to the sources) and resolves with the JSON on its `result` line. Workloads
 * run in a child when they need a process of their own: DBOS is a per-process singleton, recovery
 * workers are separate processes by definition, and heap figures need `--expose-gc` and a heap that
 * no earlier workload has touched.
 */
export function runChild<T>(
  script: string,
  options: { nodeArgs?: readonly string[]; env?: Record<string, string>; timeoutMs: number },
): Promise<T> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), "--import", "tsx", script], {
    cwd: process.cwd(),
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr = (stderr + String(chunk)).slice(-4000);
  });
  let result: T | undefined;
  createInterface({ input: child.stdout }).on("line", (line) => {
    if (line.startsWith(RESULT)) result = JSON.parse(line.slice(RESULT.length)) as T;
    else if (line.trim() !== "") console.error(`  [${script}] ${line}`);
  });
  return new Promise((resolve, reject) => {
    // A bounded workload: a child that hangs is killed rather than holding the run forever.
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && result !== undefined) resolve(result);
      else
        reject(
          new Error(
            `${script} exited with ${signal ?? code}${result === undefined ? " without a result" : ""}: ${stderr}`,
          ),
        );
    });
  });
}

/** Hands a child's result to its parent. */
export function sendResult(value: unknown): void {
  process.stdout.write(`${RESULT}${JSON.stringify(value)}\n`);
}
