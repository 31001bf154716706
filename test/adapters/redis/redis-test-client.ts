import { randomUUID } from "node:crypto";
import Redis from "ioredis";
import { expect } from "vitest";

export const REDIS_HOST = "127.0.0.1";
export const REDIS_PORT = 6379;

/** A connection to the test Redis, with a key prefix no other run uses. */
export interface RedisTestClient {
  readonly client: Redis;
  /** Prefixes a key into this client's namespace. */
  key(name: string): string;
  /** Deletes every key of the namespace and disconnects. */
  cleanup(): Promise<void>;
}

/**
 * Connects to the Redis the tests run against. Fails — never skips — when it is unreachable, with
 * the command that starts it.
 */
export async function connectTestRedis(): Promise<RedisTestClient> {
  const client = new Redis({
    host: REDIS_HOST,
    port: REDIS_PORT,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 1,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new Error(
      `Redis is unreachable at ${REDIS_HOST}:${REDIS_PORT} (${error instanceof Error ? error.message : String(error)}); the Redis tests need it. Start it with: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log`,
    );
  }
  const prefix = `lockstep-test:${randomUUID()}:`;
  return {
    client,
    key: (name) => `${prefix}${name}`,
    cleanup: async () => {
      let cursor = "0";
      do {
        const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
        if (keys.length > 0) await client.del(...keys);
        cursor = next;
      } while (cursor !== "0");
      await client.quit();
    },
  };
}

/** A port nothing listens on: a server is bound to it and closed again. */
export async function closedPort(): Promise<number> {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Checks that `version` is what a newly created Redis document starts at — an integer in
 * [1, 2^52], drawn at random so a re-created key never takes an earlier version — and returns it.
 */
export function expectFirstVersion(version: number | null): number {
  expect(Number.isSafeInteger(version), "a created document has an integer version").toBe(true);
  const first = version as number;
  expect(first).toBeGreaterThanOrEqual(1);
  expect(first).toBeLessThanOrEqual(2 ** 52);
  return first;
}
