import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The first ```ts block under the README's "## Quickstart" heading, exactly as written. */
function quickstart(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.split(/^## Quickstart$/m)[1];
  const code = section === undefined ? undefined : /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (code === undefined) throw new Error("README.md has no ```ts block under ## Quickstart.");
  return code;
}

describe("the README quickstart", () => {
  it("stays under 25 lines", () => {
    const lines = quickstart().trimEnd().split("\n");
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.length).toBeLessThan(25);
  });

  it("runs as written and completes its saga", () => {
    const dir = join(ROOT, "test/docs/.quickstart");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "quickstart.ts");
    writeFileSync(file, quickstart());
    // tsx resolves `lockstep` and `lockstep/testing` to the sources through tsconfig.json's paths.
    const run = spawnSync(process.execPath, ["--import", "tsx", file], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toBe("completed\n");
  });
});
