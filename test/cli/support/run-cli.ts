import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The repository root, where the CLI is run from. */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** What one run of the CLI printed and how it exited. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A CLI process still running: what it printed so far, and its end. */
export interface StartedCli {
  readonly child: ChildProcess;
  /** Everything it printed on standard output so far. */
  stdout(): string;
  /** Everything it printed on standard error so far. */
  stderr(): string;
  /**
   * Resolves once its standard output contains `text`; rejects, with what it printed, if it exits
   * first or `patienceMs` passes (a guard against a hung test, not a measure of speed).
   */
  waitFor(text: string, patienceMs?: number): Promise<void>;
  /** Resolves when it has exited. */
  readonly exited: Promise<CliRun>;
}

/** Starts the real CLI from its sources (`node --import tsx src/cli/index.ts …`) in a child process. */
export function startCli(args: readonly string[], env: Record<string, string> = {}): StartedCli {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/index.ts", ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const listener of [...listeners]) listener();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<CliRun>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      resolve({ code, stdout, stderr });
      for (const listener of [...listeners]) listener();
    });
  });
  const waitFor = (text: string, patienceMs = 60_000) =>
    new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        listeners.delete(check);
        clearTimeout(timer);
        if (error === undefined) resolve();
        else reject(error);
      };
      const check = () => {
        if (stdout.includes(text)) done();
        else if (child.exitCode !== null || child.signalCode !== null) {
          done(new Error(`The CLI exited before printing "${text}".\n${stdout}\n${stderr}`));
        }
      };
      const timer = setTimeout(
        () => done(new Error(`The CLI did not print "${text}".\n${stdout}\n${stderr}`)),
        patienceMs,
      );
      listeners.add(check);
      check();
    });
  return { child, stdout: () => stdout, stderr: () => stderr, waitFor, exited };
}

/** Runs the real CLI from its sources in a child process, to its end. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  return startCli(args, env).exited;
}

/** Parses the JSON a `--json` run printed, naming the run when it is not JSON. */
export function json<T = Record<string, unknown>>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`Expected JSON on stdout, got:\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}
