import net from "node:net";
import pg from "pg";
import { afterEach, beforeEach, expect, it } from "vitest";
import { postgresStore } from "../../src/adapters/postgres/index.js";
import { waitFor } from "../adapters/postgres/commit-gate.js";
import { openSchema, PG_URL, type TestSchema } from "../adapters/postgres/pg-test.js";

/**
 * The connection of a step's query is lost while the query runs: the server crashed or restarted
 * in immediate mode, a failover, a network cut. `pg` then rejects the query and also emits `error`
 * on the checked-out client; a client nobody listens on turns that event into an uncaught
 * exception, which ends the host process. The chaos suite met this on every server restart.
 */

/** A TCP proxy to the test server that can drop every connection through it at once. */
async function startProxy(): Promise<{ url: string; cutAll(): void; close(): Promise<void> }> {
  const target = new URL(PG_URL);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(PG_URL);
  url.hostname = "127.0.0.1";
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    cutAll: () => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let db: TestSchema;
const uncaught: unknown[] = [];
const record = (error: unknown) => uncaught.push(error);

beforeEach(async () => {
  db = await openSchema();
  uncaught.length = 0;
  process.on("uncaughtException", record);
});
afterEach(async () => {
  process.off("uncaughtException", record);
  await db.close();
});

it("a step's query whose connection is lost rejects, and nothing escapes as an uncaught exception", async () => {
  const proxy = await startProxy();
  const app = `${db.schema}_cut`;
  const pool = new pg.Pool({ connectionString: proxy.url, application_name: app });
  pool.on("error", () => {});
  try {
    const store = postgresStore(pool, { id: "notes" });
    const handle = store.handleFor?.(
      { signal: new AbortController().signal, deadline: Date.now() + 60_000 },
      { sagaId: "s", step: "note", key: "s:note", fencingToken: 1 },
    );
    if (handle === undefined)
      throw new Error("the Postgres store binds step handles to their call");
    const query = handle.query("SELECT pg_sleep(5)");
    const pid = await waitFor("the step's query to run", async () => {
      const { rows } = await db.admin.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'SELECT pg_sleep%'",
        [app],
      );
      return rows[0]?.pid;
    });
    proxy.cutAll();
    await expect(query).rejects.toThrow(/terminated|ECONNRESET/i);
    await db.admin.query("SELECT pg_terminate_backend($1)", [pid]);
    // A later turn of the event loop, where an unheard `error` event would have been thrown.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(uncaught.map(String), "the lost connection escaped as an uncaught exception").toEqual(
      [],
    );
    // The dead connection was discarded, not handed out again.
    const { rows } = await handle.query<{ one: number }>("SELECT 1 AS one");
    expect(rows).toEqual([{ one: 1 }]);
  } finally {
    await pool.end();
    await proxy.close();
  }
});
