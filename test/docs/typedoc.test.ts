import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

describe("the API reference", () => {
  it("builds with TypeDoc, warnings treated as errors, covering every subpath entry", () => {
    const config = JSON.parse(readFileSync(join(ROOT, "typedoc.json"), "utf8")) as {
      entryPoints: string[];
      treatWarningsAsErrors: boolean;
    };
    expect(config.treatWarningsAsErrors).toBe(true);
    const exportsMap = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).exports;
    const subpaths = Object.keys(exportsMap).filter((k) => k !== "./package.json");
    expect(subpaths).toHaveLength(17);
    expect(config.entryPoints).toHaveLength(subpaths.length);

    const out = mkdtempSync(join(tmpdir(), "lockstep-typedoc-"));
    try {
      const run = spawnSync(
        process.execPath,
        [join(ROOT, "node_modules/typedoc/bin/typedoc"), "--out", out],
        { cwd: ROOT, encoding: "utf8" },
      );
      const output = `${run.stdout}${run.stderr}`;
      expect(output).not.toMatch(/\[warning\]|\[error\]/);
      expect(run.status, output).toBe(0);
      const pages = readdirSync(join(out, "modules")).sort();
      expect(pages).toEqual([
        "adapters_bun-sqlite.html",
        "adapters_d1.html",
        "adapters_drizzle.html",
        "adapters_http-api.html",
        "adapters_http.html",
        "adapters_kysely.html",
        "adapters_libsql.html",
        "adapters_memory.html",
        "adapters_mysql.html",
        "adapters_postgres.html",
        "adapters_redis.html",
        "adapters_sqlite.html",
        "index.html",
        "outbox.html",
        "recipes_bounty.html",
        "recipes_contribution.html",
        "testing.html",
      ]);
      // The members this work added are documented on the main entry's page.
      const main = readFileSync(join(out, "modules/index.html"), "utf8");
      for (const name of [
        "explain",
        "assertExplained",
        "otelListener",
        "diagnose",
        "sagaTimeline",
      ]) {
        expect(main, `${name} is missing from the reference`).toContain(`>${name}<`);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 180_000); // TypeDoc builds every entry point: a minute or more on a busy 2-core machine.
});
