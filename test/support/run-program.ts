import { spawn } from "node:child_process";

/** How a program run by {@link runProgram} ended, and what it printed. */
export interface ProgramRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node --import tsx <args…>`: a TypeScript program run from the sources, as the tests do. */
export function tsxCommand(...args: readonly string[]): readonly string[] {
  return [process.execPath, "--import", "tsx", ...args];
}

/**
 * Runs `command` (the program, then its arguments) in a child process and collects its output.
 * Asynchronous, so a server the test runs in this process (a payment provider) keeps answering it.
 */
export function runProgram(
  command: readonly string[],
  options: { readonly cwd?: string; readonly env?: Readonly<Record<string, string>> } = {},
): Promise<ProgramRun> {
  const [program, ...args] = command;
  return new Promise((resolve, reject) => {
    const child = spawn(program as string, args, {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      env: { ...process.env, ...options.env },
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
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
