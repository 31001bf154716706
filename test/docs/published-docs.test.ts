import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { markdownExamples } from "./support/extract-examples.js";

/**
 * What a user who found lockstep on npm reads: the README (the package page, where relative links
 * lead nowhere), the package's links, and the adapters guide, which must show every built-in adapter
 * in a complete saga.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const REPOSITORY = "https://github.com/lockstep-dev/lockstep";
const readme = readFileSync(join(ROOT, "README.md"), "utf8");

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as dashes. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(join(ROOT, file), "utf8").replace(/```[\s\S]*?```/g, "");
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1] as string)));
}

describe("the package page", () => {
  it("links package.json to one repository: its code, its home page and its issues", () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      repository?: { type?: string; url?: string };
      homepage?: string;
      bugs?: { url?: string };
    };
    expect(manifest.repository).toEqual({ type: "git", url: `git+${REPOSITORY}.git` });
    expect(manifest.homepage).toBe(`${REPOSITORY}#readme`);
    expect(manifest.bugs).toEqual({ url: `${REPOSITORY}/issues` });
  });

  it("has only absolute links in the README, to files and headings that exist", () => {
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] as string);
    expect(links.length).toBeGreaterThanOrEqual(8);
    for (const link of links) {
      if (link.startsWith("#")) {
        expect(anchorsOf("README.md"), link).toContain(link.slice(1));
        continue;
      }
      expect(link, "a relative link leads nowhere from the npm page").toMatch(/^https:\/\//);
      if (!link.startsWith(`${REPOSITORY}/blob/main/`)) continue;
      const [path, anchor] = link.slice(`${REPOSITORY}/blob/main/`.length).split("#");
      expect(existsSync(join(ROOT, path as string)), `${link} names no file`).toBe(true);
      if (anchor !== undefined) expect(anchorsOf(path as string), link).toContain(anchor);
    }
    for (const guide of ["concepts", "adapters", "operations", "scaling", "testing", "recipes"]) {
      expect(links).toContain(`${REPOSITORY}/blob/main/docs/${guide}.md`);
    }
  });

  it("says the quickstart is an ES module, because it uses top-level await", () => {
    const section = readme.split(/^## Quickstart$/m)[1]?.split(/^```ts$/m)[0] ?? "";
    expect(section).toContain("ES module");
    expect(section).toContain("top-level `await`");
    expect(section).toContain("npm install lockstep");
  });
});

describe("the adapters guide", () => {
  const examples = markdownExamples(ROOT, "docs/adapters.md");
  const saga = (code: string) =>
    code.includes("defineSaga(") && code.includes(".build()") && /\.run\(/.test(code);

  it.each([
    ["lockstep/postgres", "postgresStore("],
    ["lockstep/mysql", "mysqlStore("],
    ["lockstep/redis", "redisStore("],
    ["lockstep/http", "httpDocumentStore("],
    ["lockstep/sqlite", "sqliteStore("],
  ])("shows %s's store in a complete saga that runs", (entry, factory) => {
    const complete = examples.filter(
      (e) => e.code.includes(`from "${entry}"`) && e.code.includes(factory) && saga(e.code),
    );
    expect(complete.map((e) => e.id)).not.toEqual([]);
  });

  it("shows the memory store in the README quickstart, a complete saga that runs", () => {
    const quickstart = markdownExamples(ROOT, "README.md")[0]?.code ?? "";
    expect(quickstart).toContain('from "lockstep/memory"');
    expect(saga(quickstart)).toBe(true);
  });

  const base = join(ROOT, "test/docs/.adapters");
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it("runs the SQLite example as written", () => {
    const example = examples.find((e) => e.fileName === "signup.ts");
    expect(example).toBeDefined();
    mkdirSync(base, { recursive: true });
    // Inside the repository, so that `lockstep/*` and zod resolve as they do for the docs' types.
    const dir = mkdtempSync(join(base, "sqlite-"));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    writeFileSync(join(dir, "signup.ts"), example?.code ?? "");
    const run = spawnSync(process.execPath, ["--import", "tsx", "signup.ts"], {
      cwd: dir,
      encoding: "utf8",
    });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toBe("completed\n");
  });
});
