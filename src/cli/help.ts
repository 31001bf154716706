import { type Command, GLOBAL_OPTIONS, type OptionSpec } from "./command.js";
import { COMMANDS } from "./commands/index.js";
import { ExitCode } from "./exit-code.js";

/** The help of the whole CLI. */
export function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "lockstep — inspect, diagnose and recover the sagas in a lockstep saga log.",
    "",
    "Usage: lockstep <command> [options]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Options every command takes:",
    ...optionLines(GLOBAL_OPTIONS),
    "",
    "Exit codes:",
    `  ${ExitCode.Ok}  done, nothing wrong found (for \`recover --watch\`: stopped by SIGTERM or SIGINT)`,
    `  ${ExitCode.Problems}  done, and problems found (sagas in doubt, stuck or needing attention; plan gaps with --strict)`,
    `  ${ExitCode.Usage}  usage error: unknown command or option, missing or malformed value`,
    `  ${ExitCode.Failure}  failure: the log or the config module could not be opened or read, or --log holds no saga log`,
    "",
    "Run `lockstep <command> --help` for a command's options.",
  ].join("\n");
}

/** The help of one command. */
export function commandHelp(command: Command): string {
  return [
    `Usage: lockstep ${command.synopsis}`,
    "",
    // Paragraphs are separated by a blank line in the description and wrapped one by one.
    command.description
      .split("\n\n")
      .map((paragraph) => wrap(paragraph, 100))
      .join("\n\n"),
    ...(Object.keys(command.options).length === 0
      ? []
      : ["", "Options:", ...optionLines(command.options)]),
    "",
    "Options every command takes:",
    ...optionLines(GLOBAL_OPTIONS),
  ].join("\n");
}

function optionLines(options: Readonly<Record<string, OptionSpec>>): string[] {
  const labels = Object.entries(options).map(([name, spec]) => [
    `${spec.short === undefined ? "" : `-${spec.short}, `}--${name}${spec.value === undefined ? "" : ` ${spec.value}`}`,
    spec.description,
  ]);
  const width = Math.max(...labels.map(([label]) => (label as string).length));
  return labels.map(([label, text]) => `  ${(label as string).padEnd(width)}  ${text}`);
}

function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line.length > 0 && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else {
      line = line.length === 0 ? word : `${line} ${word}`;
    }
  }
  if (line.length > 0) lines.push(line);
  return lines.join("\n");
}
