import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresSagaLog } from "../../src/adapters/postgres/index.js";
import { openSqlite, sqliteSagaLog } from "../../src/adapters/sqlite/index.js";
import { ExitCode } from "../../src/cli/exit-code.js";
import { openPool, PG_URL, uniqueName } from "../adapters/postgres/pg-test.js";
import { ROOT, runCli } from "./support/run-cli.js";

/**
 * A wrong `--log`, `--schema` or `--table-prefix` must never read as an empty log: the commands that
 * only read (and prune) fail with exit 3, say where they looked and where lockstep tables are, and
 * create nothing (no table, no schema, no file).
 */

const dir = mkdtempSync(join(tmpdir(), "lockstep-cli-missing-"));
const CONFIG = join(ROOT, "test/cli/fixtures/marketplace-config.ts");
const env = { LOCKSTEP_MARKETPLACE_DIR: join(dir, "marketplace") };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The commands that must not create a log, each as it would be run against `log`. */
const READERS: readonly (readonly [string, (log: string) => string[]])[] = [
  ["sagas list", (log) => ["sagas", "list", "--log", log]],
  ["sagas show", (log) => ["sagas", "show", "01ANY", "--log", log]],
  ["doctor", (log) => ["doctor", "--log", log]],
  ["doctor --json", (log) => ["doctor", "--log", log, "--json"]],
  ["prune", (log) => ["prune", "--older-than", "0ms", "--log", log]],
  ["explain", (log) => ["explain", "--config", CONFIG, "--log", log]],
];

describe.concurrent("the CLI on a SQLite file that holds no saga log", () => {
  for (const [name, args] of READERS) {
    it(`${name} refuses a path with no file, and creates none`, async ({ expect }) => {
      const path = join(dir, `absent-${name.replaceAll(" ", "-")}.db`);
      const run = await runCli(args(`sqlite:${path}`), env);
      expect(run.code, run.stderr).toBe(ExitCode.Failure);
      expect(run.stderr).toContain(`There is no SQLite database at "${path}"`);
      expect(existsSync(path), "the CLI created the log file").toBe(false);
    });

    it(`${name} refuses an empty database file, and leaves it empty`, async ({ expect }) => {
      const folder = mkdtempSync(join(dir, "empty-"));
      const path = join(folder, "app.db");
      writeFileSync(path, "");
      const run = await runCli(args(`sqlite:${path}`), env);
      expect(run.code, run.stderr).toBe(ExitCode.Failure);
      expect(run.stdout).not.toContain("No sagas match");
      expect(run.stdout).not.toContain("Pruned");
      expect(run.stderr).toContain(
        `There is no saga log with table prefix "lockstep_" in the SQLite database "${path}": it has no table lockstep_sagas or lockstep_saga_entries.`,
      );
      expect(run.stderr).toContain("holds no lockstep tables at all");
      expect(statSync(path).size, "the CLI wrote to the file").toBe(0);
      expect(readdirSync(folder)).toEqual(["app.db"]);
    });
  }

  it("names the table prefixes a file does hold when --table-prefix is wrong", async ({
    expect,
  }) => {
    const path = join(dir, "billing.db");
    const db = openSqlite(path);
    await sqliteSagaLog(db, { tablePrefix: "billing_" }).list();
    db.close();
    const before = statSync(path).mtimeMs;
    const run = await runCli(["doctor", "--log", `sqlite:${path}`]);
    expect(run.code, run.stderr).toBe(ExitCode.Failure);
    expect(run.stderr).toContain("it has no table lockstep_sagas or lockstep_saga_entries");
    expect(run.stderr).toContain(
      'The file holds lockstep tables with prefix "billing_": pass --table-prefix <prefix> to read them.',
    );
    expect(statSync(path).mtimeMs).toBe(before);
    const right = await runCli(["doctor", "--log", `sqlite:${path}`, "--table-prefix", "billing_"]);
    expect(right.code, right.stderr).toBe(ExitCode.Ok);
    expect(right.stdout).toContain("No saga needs a look");
  });
});

/** The names of the tables in `schema` whose name starts with `prefix`. */
async function tablesOf(schema: string, prefix: string): Promise<string[]> {
  const pool = openPool({ max: 1 });
  try {
    const { rows } = await pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables
        WHERE table_schema = $1 AND starts_with(table_name, $2) ORDER BY table_name`,
      [schema, prefix],
    );
    return rows.map((row) => row.table_name);
  } finally {
    await pool.end();
  }
}

async function schemaExists(schema: string): Promise<boolean> {
  const pool = openPool({ max: 1 });
  try {
    const { rowCount } = await pool.query(
      "SELECT 1 FROM information_schema.schemata WHERE schema_name = $1",
      [schema],
    );
    return rowCount === 1;
  } finally {
    await pool.end();
  }
}

describe("the CLI on a Postgres location that holds no saga log", () => {
  // A schema of this test's own with a log under a prefix of its own, for the messages to point at.
  const home = uniqueName("lockstep_cli_home");
  const prefix = `${uniqueName("p")}_`;
  const missing = uniqueName("lockstep_cli_nowhere");
  const admin = openPool({ max: 2 });
  let publicBefore: string[] = [];

  beforeAll(async () => {
    publicBefore = await tablesOf("public", "lockstep_");
    await admin.query(`CREATE SCHEMA "${home}"`);
    await postgresSagaLog(admin, { schema: home, tablePrefix: prefix }).ensureSchema();
  });
  afterAll(async () => {
    // What a CLI that creates logs would have left behind goes too, so a failure leaves no trace.
    const created = [
      ...(await tablesOf("public", prefix)),
      ...(publicBefore.length === 0 ? await tablesOf("public", "lockstep_") : []),
    ];
    for (const table of created)
      await admin.query(`DROP TABLE IF EXISTS public."${table}" CASCADE`);
    await admin.query(`DROP SCHEMA IF EXISTS "${missing}" CASCADE`);
    await admin.query(`DROP SCHEMA IF EXISTS "${home}" CASCADE`);
    await admin.end();
  });

  it("without --schema, no command reads public as an empty log, and none creates a table there", async () => {
    for (const [name, args] of READERS) {
      const run = await runCli(args(`postgres:${PG_URL}`), env);
      expect(run.code, `${name}: ${run.stderr}`).toBe(ExitCode.Failure);
      expect(run.stdout, name).not.toContain("No saga needs a look");
      expect(run.stderr, name).toContain(
        'There is no saga log with table prefix "lockstep_" in schema "public" of the Postgres database postgres://',
      );
      expect(run.stderr, name).toContain("it has no table lockstep_sagas or lockstep_saga_entries");
    }
    expect(await tablesOf("public", "lockstep_")).toEqual(publicBefore);
  });

  it("points at the schema and prefix that hold lockstep tables", async () => {
    const run = await runCli(["sagas", "list", "--log", PG_URL, "--table-prefix", prefix]);
    expect(run.code, run.stderr).toBe(ExitCode.Failure);
    expect(run.stderr).toContain(`in schema "public"`);
    expect(run.stderr).toContain(`"${home}" (table prefix "${prefix}")`);
    expect(run.stderr).toContain("pass --schema <name> (and --table-prefix <prefix>)");
    expect(await tablesOf("public", prefix)).toEqual([]);
    const right = await runCli([
      "sagas",
      "list",
      "--log",
      PG_URL,
      "--schema",
      home,
      "--table-prefix",
      prefix,
    ]);
    expect(right.code, right.stderr).toBe(ExitCode.Ok);
    expect(right.stdout).toContain("No sagas match.");
  });

  it("never creates a schema --schema names that does not exist", async () => {
    for (const args of [
      ["doctor", "--log", PG_URL, "--schema", missing],
      ["prune", "--older-than", "1d", "--log", PG_URL, "--schema", missing, "--json"],
    ]) {
      const run = await runCli(args);
      expect(run.code, run.stderr).toBe(ExitCode.Failure);
      expect(run.stdout).toBe("");
      expect(run.stderr).toContain(`in schema "${missing}"`);
    }
    expect(await schemaExists(missing), "the CLI created the schema").toBe(false);
  });
});
