import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/cli/commands/index.js";
import { ExitCode } from "../../src/cli/exit-code.js";
import { runCli } from "./support/run-cli.js";

const dir = mkdtempSync(join(tmpdir(), "lockstep-cli-usage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.concurrent("lockstep --help", () => {
  it("lists every command and the exit codes", async ({ expect }) => {
    const run = await runCli(["--help"]);
    expect(run.code).toBe(ExitCode.Ok);
    expect(COMMANDS).toHaveLength(8);
    for (const command of COMMANDS) expect(run.stdout).toContain(`  ${command.name}  `);
    expect(run.stdout).toContain("2  usage error");
    expect(run.stderr).toBe("");
  });

  for (const command of COMMANDS) {
    it(`has help for \`${command.name}\``, async ({ expect }) => {
      const run = await runCli([...command.name.split(" "), "--help"]);
      expect(run.code).toBe(ExitCode.Ok);
      expect(run.stdout.startsWith(`Usage: lockstep ${command.name}`)).toBe(true);
      for (const option of Object.keys(command.options)) {
        expect(run.stdout, `--${option} is not in the help`).toContain(`--${option}`);
      }
      expect(run.stdout).toContain("--log");
    });
  }

  it("prints the general help on stderr and exits 2 when no command is given", async ({
    expect,
  }) => {
    const run = await runCli([]);
    expect(run.code).toBe(ExitCode.Usage);
    expect(run.stderr).toContain("Usage: lockstep <command>");
  });
});

describe.concurrent("usage errors exit 2 and name the bad value", () => {
  const cases: readonly [string, readonly string[], string][] = [
    ["an unknown command", ["frobnicate"], 'Unknown command "frobnicate"'],
    ["an unknown sagas subcommand", ["sagas", "delete"], 'Unknown command "sagas delete"'],
    ["an unknown option", ["sagas", "list", "--colour"], "--colour"],
    ["a missing saga id", ["sagas", "show", "--log", "sqlite:x.db"], "takes <id>, got nothing"],
    ["an extra argument", ["recover", "now"], 'takes no arguments, got "now"'],
    ["a status that does not exist", ["sagas", "list", "--status", "done"], 'got "done"'],
    ["a limit that is not a number", ["sagas", "list", "--limit", "ten"], 'got "ten"'],
    ["a log of an unknown kind", ["sagas", "list", "--log", "mongodb://x"], 'got "mongodb://x"'],
    ["a MySQL log without a database", ["sagas", "list", "--log", "mysql://x"], 'got "mysql://x"'],
    ["no log at all", ["sagas", "list"], "needs --log sqlite:<path>"],
    ["prune without a duration", ["prune", "--log", "sqlite:x.db"], "needs --older-than"],
    [
      "a malformed duration",
      ["prune", "--log", "sqlite:x.db", "--older-than", "3 days"],
      'got "3 days"',
    ],
    [
      "zero workers",
      ["recover", "--workers", "0"],
      'Expected --workers to be an integer >= 1, got "0"',
    ],
    ["recover without a config", ["recover", "--log", "sqlite:x.db"], "needs --config <module>"],
    ["explain without a config", ["explain"], "needs --config <module>"],
    ["a config that does not exist", ["explain", "--config", "nope.ts"], "nope.ts"],
  ];

  for (const [name, args, message] of cases) {
    it(name, async ({ expect }) => {
      const run = await runCli(args);
      expect(run.code, run.stderr).toBe(ExitCode.Usage);
      expect(run.stderr).toContain(message);
      expect(run.stderr).toContain("--help");
      expect(run.stdout).toBe("");
    });
  }

  it("covers 16 mistakes", ({ expect }) => {
    expect(cases).toHaveLength(16);
  });
});

describe("failures exit 3", () => {
  it("refuses a SQLite log file that does not exist, and never creates it", async () => {
    const path = join(dir, "missing.db");
    const run = await runCli(["sagas", "list", "--log", `sqlite:${path}`]);
    expect(run.code).toBe(ExitCode.Failure);
    expect(run.stderr).toContain(`There is no SQLite database at "${path}"`);
    expect(existsSync(path), "the CLI created the log file").toBe(false);
  });

  it("reports a Postgres log it cannot reach, naming the database and not the password", async () => {
    const run = await runCli([
      "sagas",
      "list",
      "--log",
      "postgres://app:secret@127.0.0.1:1/orders",
    ]);
    expect(run.code).toBe(ExitCode.Failure);
    expect(run.stderr).toContain("ECONNREFUSED");
    expect(run.stderr).not.toContain("secret");
  });

  it("says what a config module lacks", async () => {
    const path = join(dir, "empty-config.mjs");
    writeFileSync(path, "export const stores = [];\n");
    const run = await runCli(["explain", "--config", path]);
    expect(run.code).toBe(ExitCode.Failure);
    expect(run.stderr).toContain("must export `sagas`");
  });

  it("reports a config module that throws while loading", async () => {
    const path = join(dir, "throwing-config.mjs");
    writeFileSync(path, 'throw new Error("no database configured");\n');
    const run = await runCli(["explain", "--config", path]);
    expect(run.code).toBe(ExitCode.Failure);
    expect(run.stderr).toContain("failed to load: no database configured");
  });
});
