/** The exit codes of the `lockstep` command. */
export const ExitCode = {
  /** The command did what was asked and found nothing wrong. */
  Ok: 0,
  /** The command ran, and found problems: sagas in doubt, stuck or needing attention, plan gaps. */
  Problems: 1,
  /** The command line was wrong: an unknown command or option, a missing or malformed value. */
  Usage: 2,
  /** The command could not run: the log or the config module could not be opened or read, or `--log` holds no saga log. */
  Failure: 3,
} as const;

/** One of the values of {@link ExitCode}. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
