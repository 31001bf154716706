import { messageOf } from "../core/message-of.js";
import { ExitCode } from "./exit-code.js";

/** A command-line mistake; the CLI prints its message and the command's usage, and exits 2. */
export class UsageError extends Error {
  readonly exitCode = ExitCode.Usage;
  /** The command whose usage to print, when known. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/** A failure to do what was asked (the log or config cannot be opened); the CLI exits 3. */
export class CliFailure extends Error {
  readonly exitCode = ExitCode.Failure;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CliFailure";
  }
}

export { messageOf };
