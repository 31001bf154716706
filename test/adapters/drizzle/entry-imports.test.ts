import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** A static import or re-export that is not type-only, at the start of a line. */
const RUNTIME_IMPORT =
  /^(?:import|export)(?!\s+type\b)\s+(?:[\w$\s{},*]+?\s+from\s*)?["']([^"'\n]+)["']/gm;

/**
 * The packages and built-in modules the files reachable from `entry` import at run time (type-only
 * imports left out), and how many files that is.
 */
function runtimeImports(entry: string): { files: number; packages: Set<string> } {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const [, specifier] of readFileSync(file, "utf8").matchAll(RUNTIME_IMPORT)) {
      if (specifier === undefined) continue;
      if (specifier.startsWith("."))
        visit(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")));
      else packages.add(specifier);
    }
  };
  visit(join(ROOT, entry));
  return { files: seen.size, packages };
}

it("lockstep/drizzle loads no database driver, so a Worker using Drizzle on D1 can bundle it", () => {
  const { files, packages } = runtimeImports("src/adapters/drizzle/index.ts");
  console.log(
    `[drizzle] ${files} files reachable from lockstep/drizzle, importing ${[...packages].sort().join(", ")}`,
  );
  expect(files, "the walk must reach the adapters the entry is built on").toBeGreaterThan(100);
  // Each driver is the user's own, reached through the Drizzle database it was given; the built-in
  // modules are those Workers provide under nodejs_compat.
  expect([...packages].sort()).toEqual([
    "neverthrow",
    "node:async_hooks",
    "node:fs",
    "node:path",
    "ulid",
    "zod",
  ]);
});
