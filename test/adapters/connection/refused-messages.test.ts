import dns from "node:dns";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { postgresSagaLog, postgresStore } from "../../../src/adapters/postgres/index.js";
import { redisSet, redisStore } from "../../../src/adapters/redis/index.js";
import {
  committed,
  createRunner,
  defineSaga,
  ErrorCode,
  MemorySagaLog,
  notCommitted,
  runAtomic,
} from "../../../src/index.js";
import { closedPort } from "../redis/redis-test-client.js";

/** Every error of a cause chain, outermost first, through `cause` and AggregateError's `errors`. */
function chain(error: unknown): unknown[] {
  const found: unknown[] = [];
  const visit = (e: unknown) => {
    if (e === undefined || found.includes(e)) return;
    found.push(e);
    if (e instanceof AggregateError) for (const inner of e.errors) visit(inner);
    if (e instanceof Error) visit(e.cause);
  };
  visit(error);
  return found;
}

/**
 * A host name with two addresses, as `localhost` has on most machines (`::1` and `127.0.0.1`): Node
 * tries both, and a refused connection fails with an AggregateError whose own message is empty.
 */
const TWICE = "refused-twice.test";
const lookup = dns.lookup;
beforeAll(() => {
  const twice = ((host: string, options: unknown, callback: unknown) => {
    if (host !== TWICE) return (lookup as (...args: unknown[]) => void)(host, options, callback);
    const done = (typeof options === "function" ? options : callback) as (
      ...args: unknown[]
    ) => void;
    const all = typeof options === "object" && (options as { all?: boolean }).all === true;
    const addresses = [
      { address: "127.0.0.1", family: 4 },
      { address: "127.0.0.2", family: 4 },
    ];
    if (all) done(null, addresses);
    else done(null, "127.0.0.1", 4);
  }) as typeof dns.lookup;
  dns.lookup = twice;
});
afterAll(() => {
  dns.lookup = lookup;
});

/** The error value keeps its cause: the AggregateError of the refused connection is on its chain. */
function expectRootCause(error: unknown, port: number): void {
  const root = chain((error as { cause?: unknown }).cause).find((e) => e instanceof AggregateError);
  expect(root, "the refused connection's AggregateError is on the cause chain").toBeDefined();
  expect((root as AggregateError).errors.map((e: Error) => e.message)).toEqual([
    `connect ECONNREFUSED 127.0.0.1:${port}`,
    `connect ECONNREFUSED 127.0.0.2:${port}`,
  ]);
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function refusedRedis() {
  const port = await closedPort();
  const client = new Redis({
    host: TWICE,
    port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  client.on("error", () => {});
  const store = redisStore(client, { id: "credits" });
  cleanups.push(async () => {
    await store.close();
    client.disconnect();
  });
  return { port, store };
}

async function refusedPool() {
  const port = await closedPort();
  const pool = new pg.Pool({ host: TWICE, port, user: "postgres", database: "test" });
  pool.on("error", () => {});
  cleanups.push(() => pool.end());
  return { port, pool };
}

const refused = (port: number) =>
  new RegExp(
    `connect ECONNREFUSED 127\\.0\\.0\\.1:${port}; connect ECONNREFUSED 127\\.0\\.0\\.2:${port}`,
  );

describe("errors name the resource a connection was refused by", () => {
  it("write_failed from Redis on a closed port carries ECONNREFUSED and the address", async () => {
    const { port, store } = await refusedRedis();
    const result = await runAtomic(store, [{ name: "set", build: () => redisSet("k", 1) }]);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.WriteFailed);
    expect(error.message).toMatch(refused(port));
    expect(error.message).not.toContain("..");
    expectRootCause(error, port);
  });

  it("write_failed from Postgres on a closed port carries ECONNREFUSED and the address", async () => {
    const { port, pool } = await refusedPool();
    const store = postgresStore(pool, { id: "stock" });
    const result = await runAtomic(store, [
      { name: "insert", build: () => ({ text: "SELECT 1" }) },
    ]);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.WriteFailed);
    expect(error.message).toMatch(refused(port));
    expect(error.message).not.toContain("..");
    expectRootCause(error, port);
  });

  it("step_failed of a saga step on Redis on a closed port carries ECONNREFUSED", async () => {
    const { port, store } = await refusedRedis();
    const saga = defineSaga("charge", { input: z.object({}) })
      .step("charge", {
        store,
        kind: "pivot",
        output: z.object({ ok: z.boolean() }),
        execute: async ({ handle, signal }) => {
          await handle.apply(redisSet("charge", 1), { signal });
          return { ok: true };
        },
        probe: async ({ handle, signal }) =>
          (await handle.get("charge", { signal })) === undefined
            ? notCommitted()
            : committed({ ok: true }),
      })
      .build();
    const runner = createRunner({ log: new MemorySagaLog(), retry: { attempts: 1 } });
    const result = await runner.run(saga, {});
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    expect(error.message).toMatch(refused(port));
    expectRootCause(error, port);
  });

  it("log_failed from a Postgres saga log on a closed port carries ECONNREFUSED", async () => {
    const { port, pool } = await refusedPool();
    const store = postgresStore(pool, { id: "stock" });
    const saga = defineSaga("noop", { input: z.object({}) })
      .step("noop", {
        store,
        kind: "pivot",
        output: z.object({ ok: z.boolean() }),
        execute: async () => ({ ok: true }),
        probe: async () => committed({ ok: true }),
      })
      .build();
    const runner = createRunner({ log: postgresSagaLog(pool, { storeId: "stock" }) });
    const result = await runner.run(saga, {});
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.LogFailed);
    expect(error.message).toMatch(refused(port));
    expectRootCause(error, port);
  });
});
