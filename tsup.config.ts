import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    index: "src/index.ts",
    "testing/index": "src/testing/index.ts",
    "memory/index": "src/adapters/memory/index.ts",
    "sqlite/index": "src/adapters/sqlite/index.ts",
    "bun-sqlite/index": "src/adapters/bun-sqlite/index.ts",
    "postgres/index": "src/adapters/postgres/index.ts",
    "redis/index": "src/adapters/redis/index.ts",
    "http/index": "src/adapters/http/index.ts",
    "http-api/index": "src/adapters/http-api/index.ts",
    "outbox/index": "src/outbox/index.ts",
    "bounty/index": "src/recipes/bounty/index.ts",
    "contribution/index": "src/recipes/contribution/index.ts",
    "cli/index": "src/cli/index.ts",
  },
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  platform: "node",
  splitting: true,
  treeshake: true,
  external: ["better-sqlite3", "bun:sqlite", "pg", "ioredis", "amqplib", "nats"],
});
