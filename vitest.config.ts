import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** `lockstep/*` resolves to the sources, as tsconfig's `paths` does for tsc and tsx. */
const alias = [
  { find: /^lockstep$/, replacement: source("./src/index.ts") },
  { find: /^lockstep\/testing$/, replacement: source("./src/testing/index.ts") },
  { find: /^lockstep\/outbox$/, replacement: source("./src/outbox/index.ts") },
  ...[
    "memory",
    "sqlite",
    "bun-sqlite",
    "postgres",
    "mysql",
    "redis",
    "http",
    "http-api",
    "drizzle",
    "kysely",
    "d1",
    "libsql",
  ].map((name) => ({
    find: new RegExp(`^lockstep/${name}$`),
    replacement: source(`./src/adapters/${name}/index.ts`),
  })),
  ...["bounty", "contribution"].map((name) => ({
    find: new RegExp(`^lockstep/${name}$`),
    replacement: source(`./src/recipes/${name}/index.ts`),
  })),
];

export default defineConfig({
  resolve: { alias },
  test: {
    include: ["test/**/*.test.ts"],
    typecheck: {
      enabled: true,
      include: ["test/types/**/*.test-d.ts"],
      tsconfig: "./tsconfig.json",
    },
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
