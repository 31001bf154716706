/**
 * The crash suite's world on Postgres, for runtimes that cannot load a SQLite binding (Deno): the
 * funds and the saga log in schema `<name>` (co-committed), the orders in schema `<name>_orders`
 * behind a pool and store id of their own. The stores are given the SQLite handle's shape (`run`,
 * `get`, `all`, `?` placeholders), so the transfer saga, its probes and the judge are the very code
 * the SQLite world runs.
 */
import pg from "pg";
import {
  type PostgresHandle,
  postgresSagaLog,
  postgresStore,
} from "../../src/adapters/postgres/index.js";
import type { SqliteHandle, SqliteWrite } from "../../src/adapters/sqlite/index.js";
import { defineStore, type SagaLog } from "../../src/index.js";
import { realHandles, unwrapHandle } from "./real-handles.js";
import type { Instrument, SqlStore, TransferWorld } from "./transfer-world.js";

/** Where the crash suite finds Postgres; it fails, never skips, when the server is missing. */
export const CRASH_PG_URL =
  process.env.LOCKSTEP_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** `?` placeholders to `$n`; SQLite's `INSERT OR IGNORE` to `ON CONFLICT DO NOTHING`. */
function toPostgres(sql: string): string {
  let n = 0;
  const text = sql.replace(/\?/g, () => `$${++n}`);
  return /^\s*INSERT OR IGNORE /i.test(text)
    ? `${text.replace(/^\s*INSERT OR IGNORE /i, "INSERT ")} ON CONFLICT DO NOTHING`
    : text;
}

function adapt(handle: PostgresHandle): SqliteHandle {
  const query = (sql: string, params?: readonly unknown[]) =>
    handle.query(toPostgres(sql), params === undefined ? undefined : [...params]);
  const adapted = {
    run: async (sql: string, params?: readonly unknown[]) => ({
      changes: (await query(sql, params)).rowCount,
      lastInsertRowid: 0,
    }),
    get: async (sql: string, params?: readonly unknown[]) => (await query(sql, params)).rows[0],
    all: async (sql: string, params?: readonly unknown[]) => (await query(sql, params)).rows,
    // A transaction handle stays one, so a step can tell it is inside a transaction already.
    ...(handle.savepoint === undefined
      ? {}
      : {
          savepoint: <T>(fn: (inner: SqliteHandle) => Promise<T>) =>
            (handle.savepoint as NonNullable<PostgresHandle["savepoint"]>)((inner) =>
              fn(adapt(inner as PostgresHandle)),
            ),
        }),
  } as unknown as SqliteHandle;
  realHandles.set(adapted, handle);
  return adapted;
}

function pool(schema: string): pg.Pool {
  const p = new pg.Pool({
    connectionString: CRASH_PG_URL,
    options: `-c search_path=${schema}`,
    max: 2,
  });
  // A server closing an idle connection must not end the process.
  p.on("error", () => {});
  return p;
}

function storeOn(p: pg.Pool, id: string): SqlStore {
  const store = postgresStore(p, { id });
  return defineStore({
    id,
    handle: adapt(store.handle),
    ...(store.handleFor
      ? { handleFor: (scope, call) => adapt(store.handleFor?.(scope, call) as PostgresHandle) }
      : {}),
    capabilities: store.capabilities,
    ...(store.fence === undefined ? {} : { fence: store.fence }),
    transaction: (work, scope) => store.transaction((tx) => work(adapt(tx)), scope),
    apply: (handle, write: SqliteWrite, scope) =>
      store
        .apply(
          unwrapHandle(handle) as unknown as PostgresHandle,
          {
            text: toPostgres(write.sql),
            values: write.params ?? [],
          },
          scope,
        )
        .then((r) => ({ changes: r.rowCount, lastInsertRowid: 0 })),
    affected: (result) => result.changes,
    ...(store.classifyError ? { classifyError: store.classifyError } : {}),
  }) as unknown as SqlStore;
}

/** A log whose co-commit unwraps the adapted transaction handle it is given. */
function unwrappingLog(log: SagaLog): SagaLog {
  const inner = log.coCommit;
  if (inner === undefined) return log;
  const coCommit: NonNullable<SagaLog["coCommit"]> = {
    storeId: inner.storeId,
    create: (tx, record, entries) => inner.create(unwrapHandle(tx), record, entries),
    write: (tx, ...rest) => inner.write(unwrapHandle(tx), ...rest),
  };
  return new Proxy(log, {
    get(target, property, receiver) {
      if (property === "coCommit") return coCommit;
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Opens the Postgres world of schema `schema` (and `<schema>_orders`); both must exist. */
export function openPostgresWorld(schema: string, instrument?: Instrument): TransferWorld {
  const mainPool = pool(schema);
  const ordersPool = pool(`${schema}_orders`);
  const rawFunds = storeOn(mainPool, `${schema}-funds`);
  const rawOrders = storeOn(ordersPool, `${schema}-orders`);
  const rawLog = unwrappingLog(postgresSagaLog(mainPool, { schema, store: rawFunds }));
  return {
    funds: instrument ? instrument.store(rawFunds, "funds") : rawFunds,
    orders: instrument ? instrument.store(rawOrders, "orders") : rawOrders,
    log: instrument ? instrument.log(rawLog) : rawLog,
    tables: async (store) =>
      (
        await store.handle.all<{ name: string }>(
          "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name",
        )
      ).map((row) => row.name),
    close: async () => {
      await Promise.all([mainPool.end(), ordersPool.end()]);
    },
  };
}

/** Creates the world's two schemas; returns its name for {@link openPostgresWorld}. */
export async function createPostgresWorld(schema: string): Promise<string> {
  const admin = new pg.Client({ connectionString: CRASH_PG_URL });
  try {
    await admin.connect();
    await admin.query(`CREATE SCHEMA "${schema}"; CREATE SCHEMA "${schema}_orders"`);
  } catch (error) {
    throw new Error(
      `Postgres at ${CRASH_PG_URL} is required by the crash suite and could not be used: ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    await admin.end().catch(() => {});
  }
  return `postgres:${schema}`;
}

/** Drops the world's two schemas with everything in them. */
export async function dropPostgresWorld(schema: string): Promise<void> {
  const admin = new pg.Client({ connectionString: CRASH_PG_URL });
  await admin.connect();
  try {
    await admin.query(
      `DROP SCHEMA IF EXISTS "${schema}" CASCADE; DROP SCHEMA IF EXISTS "${schema}_orders" CASCADE`,
    );
  } finally {
    await admin.end();
  }
}
