import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SRC = join(ROOT, "src");
const DIST = join(ROOT, "dist");
/** Inside the repository, so the bundle's bare imports (pg, ioredis) resolve from its node_modules. */
export const OUT = join(ROOT, "test/runtimes/.out");

/** The runtimes of the matrix. */
export type { Runtime } from "./matrix-command.js";

import type { Runtime } from "./matrix-command.js";

/** The public entry each source entry point is published as. */
const PUBLIC: Readonly<Record<string, string>> = {
  "index.ts": "index.js",
  "testing/index.ts": "testing/index.js",
  "adapters/memory/index.ts": "memory/index.js",
  "adapters/sqlite/index.ts": "sqlite/index.js",
  "adapters/postgres/index.ts": "postgres/index.js",
  "adapters/redis/index.ts": "redis/index.js",
  "adapters/http/index.ts": "http/index.js",
  "adapters/http-api/index.ts": "http-api/index.js",
  "adapters/mysql/index.ts": "mysql/index.js",
  "adapters/libsql/index.ts": "libsql/index.js",
  "adapters/d1/index.ts": "d1/index.js",
  "adapters/drizzle/index.ts": "drizzle/index.js",
  "adapters/kysely/index.ts": "kysely/index.js",
  "recipes/bounty/index.ts": "bounty/index.js",
  "recipes/contribution/index.ts": "contribution/index.js",
};

/** Internal modules with no state or classes of their own, bundled from source. */
const FROM_SOURCE = new Set(["testing/crash-switch.ts"]);

/** A recipe's internal module is re-exported by its recipe's public entry. */
const recipeEntry = (inSrc: string): string | undefined => {
  if (inSrc === "recipes/sql-client.ts" || inSrc.startsWith("recipes/bounty/"))
    return "bounty/index.js";
  if (inSrc.startsWith("recipes/contribution/")) return "contribution/index.js";
  return undefined;
};

const distUrl = (entry: string) => pathToFileURL(join(DIST, entry)).href;

/**
 * Sends every import of lockstep's sources to the published build in dist/: an entry point to its
 * public entry, an internal module to the public entries that re-export it. On Bun the SQLite entry
 * is `lockstep/bun-sqlite`, which has the same exports over bun:sqlite. `vitest` is the shim.
 */
function publishedBuild(runtime: Runtime): Plugin {
  return {
    name: "lockstep-published-build",
    setup(b) {
      b.onResolve({ filter: /^vitest$/ }, () => ({
        path: fileURLToPath(new URL("./vitest-shim.ts", import.meta.url)),
      }));
      b.onResolve({ filter: /^file:/ }, (args) => ({ path: args.path, external: true }));
      // An example's own imports of the package, as an application writes them.
      b.onResolve({ filter: /^lockstep(\/[a-z-]+)?$/ }, (args) => {
        const sub = args.path.slice("lockstep".length).replace(/^\//, "");
        const entry =
          sub === ""
            ? "index.js"
            : `${runtime === "bun" && sub === "sqlite" ? "bun-sqlite" : sub}/index.js`;
        return { path: distUrl(entry), external: true };
      });
      b.onResolve({ filter: /^\.\.?\// }, (args) => {
        const target = resolve(args.resolveDir, args.path).replace(/\.js$/, ".ts");
        if (!target.startsWith(`${SRC}/`)) return undefined;
        const inSrc = relative(SRC, target);
        if (FROM_SOURCE.has(inSrc)) return { path: target };
        if (inSrc === "adapters/sqlite/index.ts" && runtime === "bun") {
          return { path: distUrl("bun-sqlite/index.js"), external: true };
        }
        const entry = PUBLIC[inSrc] ?? recipeEntry(inSrc);
        if (entry !== undefined) return { path: distUrl(entry), external: true };
        return { path: "lockstep-internal", namespace: "lockstep-internal" };
      });
      b.onLoad({ filter: /.*/, namespace: "lockstep-internal" }, () => ({
        contents: `export * from ${JSON.stringify(distUrl("index.js"))};\nexport * from ${JSON.stringify(distUrl("testing/index.js"))};\n`,
        loader: "js",
      }));
    },
  };
}

/** Fails with the command to run when dist/ has no build. */
function assertBuilt(): void {
  if (!existsSync(join(DIST, "index.js")) || !existsSync(join(DIST, "bun-sqlite/index.js"))) {
    throw new Error(
      `The runtime matrix runs the published build, and ${DIST} has none: run \`npm run build\` first.`,
    );
  }
}

/**
 * Bundles the program `entry` (a path, or a URL relative to this file) for `runtime` into `outfile`,
 * with every import of lockstep's sources (and of the package itself) sent to the published build.
 */
export async function bundle(runtime: Runtime, entry: string, outfile: string): Promise<string> {
  assertBuilt();
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    entryPoints: [entry.startsWith("/") ? entry : fileURLToPath(new URL(entry, import.meta.url))],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "es2022",
    // Bundled: the shim and the matchers (chai, @vitest/expect). Left to the runtime: the drivers and
    // the libraries the published build imports too, so both share one copy.
    external: [
      "pg",
      "ioredis",
      "mysql2",
      "zod",
      "fast-check",
      "neverthrow",
      "ulid",
      "better-sqlite3",
    ],
    plugins: [publishedBuild(runtime)],
    logLevel: "error",
  });
  return outfile;
}

/**
 * Bundles the matrix program for `runtime`; returns the file to run. Each call writes its own file
 * (`tag` names it), so test files running at once never read each other's half-written bundle.
 */
export function buildMatrix(runtime: Runtime, tag: string = runtime): Promise<string> {
  return bundle(runtime, "./matrix-entry.ts", join(OUT, `matrix-${tag}.mjs`));
}

/**
 * Bundles the SIGKILL case's child process for `runtime` on its own: it is started twice per crash
 * point, so it loads only the crash world, not every suite and driver of the matrix program.
 */
export function buildCrashChild(runtime: Runtime, tag: string = runtime): Promise<string> {
  return bundle(runtime, "../crash/child.ts", join(OUT, `crash-child-${tag}.mjs`));
}
