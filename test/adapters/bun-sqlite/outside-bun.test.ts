import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as bunSqlite from "../../../src/adapters/bun-sqlite/index.js";
import * as sqlite from "../../../src/adapters/sqlite/index.js";
import { LockstepRuntimeError } from "../../../src/index.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

describe("lockstep/bun-sqlite outside Bun", () => {
  it("loads, with the same exports as lockstep/sqlite", () => {
    expect(Object.keys(bunSqlite).sort()).toEqual(Object.keys(sqlite).sort());
  });

  it("refuses to open a database on Node with a runtime error naming Bun", () => {
    let thrown: unknown;
    try {
      bunSqlite.openSqlite(":memory:");
    } catch (error) {
      thrown = error;
    }
    expect(LockstepRuntimeError.is(thrown)).toBe(true);
    const error = thrown as LockstepRuntimeError;
    expect(error.requirement).toBe("the Bun runtime (bun:sqlite)");
    expect(error.message).toMatch(
      /^lockstep\/bun-sqlite needs the Bun runtime \(bun:sqlite\), but it is running on Node \d+\.\d+\.\d+; on Node use openSqlite from lockstep\/sqlite/,
    );
  });

  it("refuses on Deno too, naming Deno, from the published build", () => {
    const script = `import { openSqlite } from ${JSON.stringify(`${ROOT}dist/bun-sqlite/index.js`)};
try { openSqlite(":memory:"); console.log("opened"); } catch (e) { console.log(e.name + ": " + e.message); }`;
    const deno = spawnSync(
      `${ROOT}node_modules/.bin/deno`,
      ["eval", "--config", `${ROOT}test/runtimes/deno.json`, "-A", script],
      { cwd: ROOT, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } },
    );
    expect(deno.stderr).toBe("");
    expect(deno.stdout).toMatch(
      /^LockstepRuntimeError: lockstep\/bun-sqlite needs the Bun runtime \(bun:sqlite\), but it is running on Deno 2\.\d+\.\d+;/,
    );
  });
});
