/** Where the CLI writes: the only place in lockstep that prints. */
export interface Output {
  /** Writes one line (or several, joined) to standard output. */
  out(text: string): void;
  /** Writes one line to standard error. */
  err(text: string): void;
}

/** Writes to the process's standard output and standard error. */
export const processOutput: Output = {
  out: (text) => {
    process.stdout.write(`${text}\n`);
  },
  err: (text) => {
    process.stderr.write(`${text}\n`);
  },
};

/** Prints `value` as pretty JSON on standard output, for scripts. */
export function printJson(output: Output, value: unknown): void {
  output.out(JSON.stringify(value, null, 2));
}
