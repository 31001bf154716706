import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The package's subpath entries and the source file each maps to. */
export const ENTRIES: Readonly<Record<string, string>> = {
  lockstep: "src/index.ts",
  "lockstep/memory": "src/adapters/memory/index.ts",
  "lockstep/testing": "src/testing/index.ts",
  "lockstep/sqlite": "src/adapters/sqlite/index.ts",
  "lockstep/postgres": "src/adapters/postgres/index.ts",
  "lockstep/d1": "src/adapters/d1/index.ts",
  "lockstep/libsql": "src/adapters/libsql/index.ts",
  "lockstep/mysql": "src/adapters/mysql/index.ts",
  "lockstep/redis": "src/adapters/redis/index.ts",
  "lockstep/http": "src/adapters/http/index.ts",
  "lockstep/http-api": "src/adapters/http-api/index.ts",
  "lockstep/drizzle": "src/adapters/drizzle/index.ts",
  "lockstep/kysely": "src/adapters/kysely/index.ts",
  "lockstep/outbox": "src/outbox/index.ts",
  "lockstep/bounty": "src/recipes/bounty/index.ts",
  "lockstep/contribution": "src/recipes/contribution/index.ts",
};

/**
 * The names an entry exports, each with whether it is a type only. Entries only re-export
 * (`export { a, type B } from …`, `export type { C } from …`), so reading their export lists is
 * enough.
 */
export function exportedNames(root: string, entry: string): Map<string, boolean> {
  const text = readFileSync(join(root, ENTRIES[entry] as string), "utf8");
  const names = new Map<string, boolean>();
  for (const block of text.matchAll(/export\s+(type\s+)?\{([^}]*)\}/g)) {
    const allTypes = block[1] !== undefined;
    for (const part of (block[2] ?? "").split(",")) {
      const trimmed = part.trim();
      const name = trimmed
        .replace(/^type\s+/, "")
        .split(/\s+as\s+/)
        .pop()
        ?.trim();
      if (name) names.set(name, allTypes || trimmed.startsWith("type "));
    }
  }
  return names;
}

/** The entry a source file belongs to, by its folder. */
export function entryOf(file: string): string {
  if (file.startsWith("src/testing/")) return "lockstep/testing";
  if (file.startsWith("src/outbox/")) return "lockstep/outbox";
  const adapter = /^src\/adapters\/([^/]+)\//.exec(file)?.[1];
  if (adapter !== undefined) return `lockstep/${adapter}`;
  const recipe = /^src\/recipes\/([^/]+)\//.exec(file)?.[1];
  if (recipe !== undefined) return `lockstep/${recipe}`;
  return "lockstep";
}
