import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { markdownExamples } from "./support/extract-examples.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const base = join(ROOT, "test/docs/.orm-guides");
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** Runs a documented example as written, twice (its tables and rows must survive a second run). */
function runTwice(file: string, fileName: string): void {
  const example = markdownExamples(ROOT, file).find((e) => e.fileName === fileName);
  expect(example, `${file} must hold the example ${fileName}`).toBeDefined();
  mkdirSync(base, { recursive: true });
  // Inside the repository, so that `lockstep/*`, the drivers and zod resolve as for the docs' types.
  const dir = mkdtempSync(join(base, "run-"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(join(dir, fileName), example?.code ?? "");
  for (let run = 1; run <= 2; run++) {
    const result = spawnSync(process.execPath, ["--import", "tsx", fileName], {
      cwd: dir,
      encoding: "utf8",
    });
    expect(result.stderr, `run ${run}`).toBe("");
    expect(result.status, `run ${run}`).toBe(0);
    expect(result.stdout, `run ${run}`).toBe("completed\n");
  }
}

describe("the ORM guides' complete sagas run as written", () => {
  it.each([
    ["README.md", "quickstart-drizzle.ts"],
    ["docs/drizzle.md", "drizzle-order.ts"],
    ["docs/drizzle.md", "drizzle-libsql-wallet.ts"],
    ["docs/kysely.md", "kysely-signup.ts"],
  ])("%s: %s", (file, fileName) => runTwice(file, fileName));
});
