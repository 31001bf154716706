import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { postgresSagaLog, postgresStore } from "../../src/adapters/postgres/index.js";
import { openSqlite, sqliteSagaLog, sqliteStore } from "../../src/adapters/sqlite/index.js";
import {
  committed,
  defineSaga,
  MemorySagaLog,
  notCommitted,
  type SagaLog,
  type StepStore,
} from "../../src/index.js";
import { openSchema } from "../adapters/postgres/pg-test.js";

/** One SQL database holding both the orders table and the saga log, so the step co-commits. */
export interface OrdersDb {
  readonly name: string;
  readonly log: SagaLog;
  /** The store the log co-commits with. */
  readonly store: StepStore<unknown>;
  /** Inserts an order through a handle of `store`. */
  insert(handle: unknown, id: string, total: number): Promise<void>;
  /** Reads an order through a handle of `store`. */
  find(handle: unknown, id: string): Promise<number | undefined>;
  /** How many orders the database holds. */
  count(): Promise<number>;
  close(): Promise<void>;
}

type SqliteTx = {
  run(sql: string, params?: unknown[]): Promise<unknown>;
  get<T>(sql: string, params?: unknown[]): Promise<T | undefined>;
};
type PgTx = {
  query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
};

/** A SQLite file of its own with the orders table and the log. */
export async function sqliteOrders(at?: string): Promise<OrdersDb> {
  const dir = at ?? mkdtempSync(join(tmpdir(), "lockstep-outbox-"));
  const db = openSqlite(join(dir, "orders.db"));
  const store = sqliteStore(db, { id: "orders-db" });
  await store.handle.run(
    "CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, total INTEGER NOT NULL)",
  );
  return {
    name: "SQLite (a file)",
    log: sqliteSagaLog(db, { store }),
    store: store as StepStore<unknown>,
    insert: async (handle, id, total) => {
      await (handle as SqliteTx).run("INSERT INTO orders (id, total) VALUES (?, ?)", [id, total]);
    },
    find: async (handle, id) =>
      (
        await (handle as SqliteTx).get<{ total: number }>("SELECT total FROM orders WHERE id = ?", [
          id,
        ])
      )?.total,
    count: async () =>
      (await store.handle.get<{ n: number }>("SELECT count(*) AS n FROM orders"))?.n ?? -1,
    close: async () => {
      db.close();
      if (at === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Postgres schema of its own with the orders table and the log. */
export async function postgresOrders(): Promise<OrdersDb> {
  const db = await openSchema();
  await db.pool.query("CREATE TABLE orders (id text PRIMARY KEY, total integer NOT NULL)");
  const store = postgresStore(db.pool);
  return {
    name: "Postgres",
    log: postgresSagaLog(db.pool, { schema: db.schema }),
    store: store as StepStore<unknown>,
    insert: async (handle, id, total) => {
      await (handle as PgTx).query("INSERT INTO orders (id, total) VALUES ($1, $2)", [id, total]);
    },
    find: async (handle, id) => {
      const { rows } = await (handle as PgTx).query("SELECT total FROM orders WHERE id = $1", [id]);
      return rows[0] === undefined ? undefined : Number(rows[0].total);
    },
    count: async () => Number((await db.pool.query("SELECT count(*) AS n FROM orders")).rows[0].n),
    close: () => db.close(),
  };
}

export const ORDER_DBS = [sqliteOrders, postgresOrders] as const;

/** The logs with an outbox: memory, SQLite, Postgres. */
export const OUTBOX_LOGS: readonly {
  readonly name: string;
  readonly open: () => Promise<{ log: SagaLog; close: () => Promise<void> }>;
}[] = [
  {
    name: "the memory log",
    open: async () => ({ log: new MemorySagaLog(), close: async () => {} }),
  },
  {
    name: "SQLite (a file)",
    open: async () => {
      const db = await sqliteOrders();
      return { log: db.log, close: db.close };
    },
  },
  {
    name: "Postgres",
    open: async () => {
      const db = await postgresOrders();
      return { log: db.log, close: db.close };
    },
  },
];

/**
 * checkout: place the order (the pivot, co-committed with the log) and publish `orders.placed`
 * with its total. `total` makes the message: pass one JSON cannot hold to test the refusal.
 */
export function checkoutSaga(orders: OrdersDb, body: (total: number) => unknown = (t) => t) {
  return defineSaga("checkout", { input: z.object({ orderId: z.string(), total: z.number() }) })
    .step("place", {
      store: orders.store,
      kind: "pivot",
      output: z.object({ orderId: z.string(), total: z.number() }),
      execute: async ({ input, handle }) => {
        await orders.insert(handle, input.orderId, input.total);
        return { orderId: input.orderId, total: input.total };
      },
      probe: async ({ input, handle }) => {
        const total = await orders.find(handle, input.orderId);
        return total === undefined ? notCommitted() : committed({ orderId: input.orderId, total });
      },
      publish: ({ output }) => [
        { topic: "orders.placed", message: { orderId: output.orderId, total: body(output.total) } },
      ],
    })
    .build();
}
