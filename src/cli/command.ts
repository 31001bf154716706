import type { SagaLog } from "../log/saga-log.js";
import { UsageError } from "./cli-error.js";
import type { ExitCode } from "./exit-code.js";
import { type LockstepConfig, loadConfig } from "./load-config.js";
import { openLog, parseLogLocation } from "./open-log.js";
import type { Output } from "./output.js";

/** One option of a command, as `node:util` `parseArgs` takes it, with its help. */
export interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly multiple?: boolean;
  readonly short?: string;
  /** The placeholder shown in help, e.g. `<duration>`. */
  readonly value?: string;
  readonly description: string;
}

/** One command of the CLI. */
export interface Command {
  /** Its words, e.g. `sagas list`. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The synopsis, without the leading `lockstep`. */
  readonly synopsis: string;
  /** Paragraphs shown under the synopsis in its help. */
  readonly description: string;
  /** Its own options, besides the global ones. */
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** How many positional arguments it takes, at least and at most. */
  readonly positionals: { readonly min: number; readonly max: number; readonly names: string };
  /**
   * Whether it may create the log's tables when `--log` points at a log without them (`recover`,
   * which writes anyway). Every other command requires them, and fails rather than report an empty
   * log or create one.
   */
  readonly createsLog?: boolean;
  /** Runs it; resolves to the exit code. */
  run(session: Session): Promise<ExitCode>;
}

/** The options every command takes. */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  log: {
    type: "string",
    value: "<sqlite:path|postgres:url|mysql:url>",
    description:
      "The saga log: sqlite:<file>, postgres:<url> or mysql:<url>. Defaults to the `log` the config module exports.",
  },
  config: {
    type: "string",
    value: "<module>",
    description:
      "A module exporting `sagas` (and optionally `stores`, `log`, `close`); .ts modules load through tsx.",
  },
  schema: {
    type: "string",
    value: "<name>",
    description:
      "The Postgres schema of the log's tables (default public); for MySQL, the database holding them (default the URL's).",
  },
  "table-prefix": {
    type: "string",
    value: "<prefix>",
    description: "The prefix of the log's tables (default lockstep_).",
  },
  json: { type: "boolean", description: "Print one JSON document instead of tables." },
  help: { type: "boolean", short: "h", description: "Show this help." },
};

/** What a running command works with; resources it opens are closed when the command ends. */
export class Session {
  readonly command: Command;
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
  readonly output: Output;
  readonly #closers: (() => unknown)[] = [];
  #config: LockstepConfig | undefined;
  #log: SagaLog | undefined;

  constructor(
    command: Command,
    values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>,
    positionals: readonly string[],
    output: Output,
  ) {
    this.command = command;
    this.values = values;
    this.positionals = positionals;
    this.output = output;
  }

  /** Whether `--json` was given. */
  get json(): boolean {
    return this.values.json === true;
  }

  /** A string option, if given. */
  string(name: string): string | undefined {
    const value = this.values[name];
    return typeof value === "string" ? value : undefined;
  }

  /** An integer option at least `min`, or `fallback` when not given. */
  integer(name: string, min: number, fallback: number): number {
    const value = this.string(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
      throw new UsageError(
        `Expected --${name} to be an integer >= ${min}, got "${value}".`,
        this.command.name,
      );
    }
    return n;
  }

  /** The config module, loaded once; `undefined` when `--config` was not given. */
  async config(): Promise<LockstepConfig | undefined> {
    const path = this.string("config");
    if (path === undefined) return undefined;
    if (this.#config === undefined) {
      this.#config = await loadConfig(path, this.command.name);
      const close = this.#config.close;
      if (close !== undefined) this.#closers.push(close);
    }
    return this.#config;
  }

  /** The config module, which this command cannot do without. */
  async requireConfig(why: string): Promise<LockstepConfig> {
    const config = await this.config();
    if (config === undefined) {
      throw new UsageError(
        `\`lockstep ${this.command.name}\` needs --config <module> exporting the saga definitions, ${why}.`,
        this.command.name,
      );
    }
    return config;
  }

  /** The saga log: `--log` if given, else the config module's `log`. */
  async log(): Promise<SagaLog> {
    if (this.#log !== undefined) return this.#log;
    const flag = this.string("log");
    if (flag !== undefined) {
      const opened = await openLog(parseLogLocation(flag, this.command.name), {
        tablePrefix: this.string("table-prefix"),
        schema: this.string("schema"),
        mayCreate: this.command.createsLog === true,
      });
      this.#closers.push(() => opened.close());
      this.#log = opened.log;
      return opened.log;
    }
    const fromConfig = (await this.config())?.log;
    if (fromConfig === undefined) {
      throw new UsageError(
        `\`lockstep ${this.command.name}\` needs --log sqlite:<path>, --log postgres:<url> or --log mysql:<url> (or a config module that exports \`log\`).`,
        this.command.name,
      );
    }
    this.#log = fromConfig;
    return fromConfig;
  }

  /** The log if one is available (`--log` or the config's), else `undefined`. */
  async optionalLog(): Promise<SagaLog | undefined> {
    if (this.string("log") === undefined && (await this.config())?.log === undefined) {
      return undefined;
    }
    return this.log();
  }

  /** Closes everything the command opened, last opened first. */
  async close(): Promise<void> {
    for (const close of this.#closers.reverse()) {
      try {
        await close();
      } catch {
        // Closing is best effort: the command's own result is what matters.
      }
    }
    this.#closers.length = 0;
  }
}
