import { parseArgs } from "node:util";
import { isLockstepError } from "../core/errors.js";
import { SagaLogError } from "../log/saga-log.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { CliFailure, messageOf, UsageError } from "./cli-error.js";
import { type Command, GLOBAL_OPTIONS, type OptionSpec, Session } from "./command.js";
import { COMMANDS } from "./commands/index.js";
import { ExitCode } from "./exit-code.js";
import { commandHelp, generalHelp } from "./help.js";
import type { Output } from "./output.js";

/** Every option of every command, to find the command words before the command is known. */
const ALL_OPTIONS: Record<string, OptionSpec> = Object.assign(
  {},
  GLOBAL_OPTIONS,
  ...COMMANDS.map((c) => c.options),
);

/**
 * Runs the `lockstep` command line `argv` (without `node` and the script), writing to `output`.
 * Resolves to the exit code; never throws.
 */
export async function main(argv: readonly string[], output: Output): Promise<ExitCode> {
  let command: Command | undefined;
  try {
    const loose = parseArgs({
      args: [...argv],
      options: toParseArgs(ALL_OPTIONS),
      strict: false,
      allowPositionals: true,
    });
    const words = loose.positionals;
    if (words[0] === "help") {
      const target = findCommand(words.slice(1));
      output.out(target === undefined ? generalHelp() : commandHelp(target.command));
      return ExitCode.Ok;
    }
    const found = findCommand(words);
    if (found === undefined) {
      if (loose.values.help === true && (words.length === 0 || words[0] === "sagas")) {
        output.out(generalHelp());
        return ExitCode.Ok;
      }
      if (words.length === 0) {
        output.err(generalHelp());
        return ExitCode.Usage;
      }
      const known = COMMANDS.map((c) => c.name).join(", ");
      throw new UsageError(
        `Unknown command "${words.slice(0, words[0] === "sagas" ? 2 : 1).join(" ")}"; the commands are ${known}.`,
      );
    }
    command = found.command;
    if (loose.values.help === true) {
      output.out(commandHelp(command));
      return ExitCode.Ok;
    }
    const parsed = parseStrict(command, argv);
    const positionals = parsed.positionals.slice(found.words);
    const { min, max, names } = command.positionals;
    if (positionals.length < min || positionals.length > max) {
      throw new UsageError(
        max === 0
          ? `\`lockstep ${command.name}\` takes no arguments, got "${positionals.join(" ")}".`
          : `\`lockstep ${command.name}\` takes ${names}, got ${positionals.length === 0 ? "nothing" : `"${positionals.join(" ")}"`}.`,
        command.name,
      );
    }
    const session = new Session(command, parsed.values, positionals, output);
    try {
      return await command.run(session);
    } finally {
      await session.close();
    }
  } catch (error) {
    return report(error, command, output);
  }
}

function findCommand(words: readonly string[]): { command: Command; words: number } | undefined {
  for (const command of COMMANDS) {
    const parts = command.name.split(" ");
    if (parts.every((part, i) => words[i] === part)) return { command, words: parts.length };
  }
  return undefined;
}

function parseStrict(command: Command, argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      options: toParseArgs({ ...GLOBAL_OPTIONS, ...command.options }),
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    // parseArgs names the offending option in its message; keep it, and say which command it was.
    throw new UsageError(`${messageOf(error)} (in \`lockstep ${command.name}\`)`, command.name);
  }
}

function toParseArgs(options: Readonly<Record<string, OptionSpec>>) {
  return Object.fromEntries(
    Object.entries(options).map(([name, spec]) => [
      name,
      {
        type: spec.type,
        ...(spec.multiple === undefined ? {} : { multiple: spec.multiple }),
        ...(spec.short === undefined ? {} : { short: spec.short }),
      },
    ]),
  ) as Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>;
}

function report(error: unknown, command: Command | undefined, output: Output): ExitCode {
  if (error instanceof UsageError) {
    output.err(`lockstep: ${error.message}`);
    const name = error.command ?? command?.name;
    output.err(`Run \`lockstep ${name === undefined ? "" : `${name} `}--help\` for usage.`);
    return ExitCode.Usage;
  }
  if (error instanceof CliFailure) {
    output.err(`lockstep: ${error.message}`);
    return ExitCode.Failure;
  }
  if (SagaLogError.is(error) || isLockstepError(error) || LockstepDefinitionError.is(error)) {
    output.err(`lockstep: ${messageOf(error)}`);
    return ExitCode.Failure;
  }
  output.err(
    `lockstep: ${command === undefined ? "" : `${command.name} `}failed: ${messageOf(error)}`,
  );
  return ExitCode.Failure;
}
