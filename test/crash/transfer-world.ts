import { existsSync, readFileSync } from "node:fs";
import type { Pool as MysqlPool } from "mysql2/promise";
import { z } from "zod";
import { mysqlSagaLog } from "../../src/adapters/mysql/index.js";
import {
  openSqlite,
  type SqliteHandle,
  type SqliteTransactionHandle,
  type SqliteWrite,
  type SqliteWriteResult,
  sqliteSagaLog,
  sqliteStore,
} from "../../src/adapters/sqlite/index.js";
import {
  committed,
  compensated,
  defineSaga,
  defineStore,
  guardFailed,
  type NewStepEntry,
  notCommitted,
  runAtomic,
  type SagaLog,
  type SagaRecord,
  type Store,
  StoreError,
} from "../../src/index.js";
import { LOG_WRITES } from "../../src/testing/crash-switch.js";
import { openPool as openMysqlPool } from "../adapters/mysql/mysql-test.js";
import { openPostgresWorld } from "./postgres-world.js";
import { realHandles, unwrapHandle } from "./real-handles.js";

/** The money every scenario starts with; conservation is checked against it. */
export const INITIAL_TOTAL = 100;
export const AMOUNT = 30;
export const SAGA_ID = "crash-saga-1";

/** A store with the SQLite handle's shape (`run`/`get`/`all`, `?` placeholders). */
export type SqlStore = Store<SqliteHandle, SqliteWrite, SqliteWriteResult> & {
  readonly apply: (
    h: SqliteHandle,
    w: SqliteWrite,
    s: { signal: AbortSignal; deadline: number },
  ) => Promise<SqliteWriteResult>;
  readonly affected: (r: SqliteWriteResult) => number;
};

/**
 * The world of the crash suite: `main.db` holds the saga log and the funds (so funds steps are
 * co-committed with their log records); `orders.db` is a second database reached through its own
 * connection, whose writes are ordinary saga steps with probes. On Postgres (where the world's name
 * starts with `postgres:`) the two databases are two schemas, each with its own pool and store id.
 */
export interface TransferWorld {
  readonly funds: SqlStore;
  readonly orders: SqlStore;
  readonly log: SagaLog;
  /** The names of the tables the store's database holds. */
  tables(store: SqlStore): Promise<string[]>;
  close(): void | Promise<void>;
}

/** Hooks the crash child uses to make every durable boundary visible. */
export interface Instrument {
  store(store: SqlStore, name: string): SqlStore;
  log(log: SagaLog): SagaLog;
}

/** Opens the world named `dir`: a directory of SQLite files, or `postgres:<schema>`. */
export function openWorld(dir: string, instrument?: Instrument): TransferWorld {
  if (dir.startsWith("postgres:")) {
    return openPostgresWorld(dir.slice("postgres:".length), instrument);
  }
  const main = openSqlite(`${dir}/main.db`);
  const ordersDb = openSqlite(`${dir}/orders.db`);
  const rawFunds = sqliteStore(main) as SqlStore;
  const rawOrders = sqliteStore(ordersDb) as SqlStore;
  // The saga log lives in main.db, or in the MySQL database a MySQL run names in the directory.
  const mysqlLog = mysqlLogOf(dir);
  const rawLog = mysqlLog?.log ?? sqliteSagaLog(main);
  return {
    funds: instrument ? instrument.store(rawFunds, "funds") : rawFunds,
    orders: instrument ? instrument.store(rawOrders, "orders") : rawOrders,
    log: instrument ? instrument.log(rawLog) : rawLog,
    tables: async (store) =>
      (
        await store.handle.all<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        )
      ).map((row) => row.name),
    async close() {
      main.close();
      ordersDb.close();
      await mysqlLog?.pool.end();
    },
  };
}

/** The file in a world's directory that names its MySQL log database, when it has one. */
export const MYSQL_LOG_FILE = "mysql-log-database";

function mysqlLogOf(dir: string): { log: SagaLog; pool: MysqlPool } | undefined {
  const file = `${dir}/${MYSQL_LOG_FILE}`;
  if (!existsSync(file)) return undefined;
  const pool = openMysqlPool(readFileSync(file, "utf8").trim(), { connectionLimit: 4 });
  return { log: mysqlSagaLog(pool), pool };
}

/** Creates the tables and the opening balances; for the compensating path, a foreign order. */
export async function seedWorld(
  world: TransferWorld,
  path: "happy" | "compensating",
): Promise<void> {
  const f = world.funds.handle;
  const o = world.orders.handle;
  await f.run(
    "CREATE TABLE accounts (id TEXT PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0))",
  );
  await f.run(
    "CREATE TABLE holds (id TEXT PRIMARY KEY, account TEXT NOT NULL, amount INTEGER NOT NULL, status TEXT NOT NULL)",
  );
  await f.run("INSERT INTO accounts (id, balance) VALUES ('alice', ?), ('merchant', 0)", [
    INITIAL_TOTAL,
  ]);
  await o.run(
    "CREATE TABLE orders (id TEXT PRIMARY KEY, hold_key TEXT NOT NULL, amount INTEGER NOT NULL)",
  );
  await o.run("CREATE TABLE notices (key TEXT PRIMARY KEY, order_id TEXT NOT NULL)");
  if (path === "compensating") {
    await o.run("INSERT INTO orders (id, hold_key, amount) VALUES ('o-1', 'someone-else', 5)");
  }
  // Creates the log's tables now, so the crash points are the saga's own.
  await world.log.list();
}

export const transferInput = z.object({
  orderId: z.string(),
  account: z.string(),
  amount: z.number().int().positive(),
});

/**
 * Runs a funds step's two writes atomically: in the transaction the runner opened to co-commit the
 * step with its log record (a transaction handle, when the log is in main.db), or else in a
 * transaction of the step's own (the log is elsewhere, as in the MySQL runs).
 */
function atomically<T>(
  funds: SqlStore,
  handle: SqliteHandle,
  scope: { readonly signal: AbortSignal; readonly deadline: number },
  work: (handle: SqliteHandle) => Promise<T>,
): Promise<T> {
  if (handle.savepoint !== undefined) return work(handle);
  const transaction = funds.transaction;
  if (transaction === undefined) throw new Error("The funds store has no transactions.");
  return transaction(work, scope);
}

/**
 * reserve (compensatable, funds) → confirm (pivot, orders) → capture (retriable, funds) → notify
 * (retriable, orders). Capture moves the held amount to the merchant; every step is idempotent by
 * its key and every compensation is guarded.
 */
export function transferSaga(world: TransferWorld) {
  const { funds, orders } = world;
  return defineSaga("transfer", { input: transferInput })
    .step("reserve", {
      store: funds,
      kind: "compensatable",
      output: z.object({ holdId: z.string() }),
      execute: ({ input, handle: step, key, signal, deadline }) =>
        atomically(funds, step, { signal, deadline }, async (handle) => {
          const debit = await handle.run(
            "UPDATE accounts SET balance = balance - ? WHERE id = ? AND balance >= ?",
            [input.amount, input.account, input.amount],
          );
          if (debit.changes === 0)
            throw new StoreError("not_committed", `${input.account} cannot cover ${input.amount}.`);
          await handle.run(
            "INSERT INTO holds (id, account, amount, status) VALUES (?, ?, ?, 'held')",
            [key, input.account, input.amount],
          );
          return { holdId: key };
        }),
      probe: async ({ handle, key }) =>
        (await handle.get("SELECT id FROM holds WHERE id = ?", [key]))
          ? committed({ holdId: key })
          : notCommitted(),
      compensate: async ({ handle, output }) => {
        const hold = await handle.get<{ status: string }>("SELECT status FROM holds WHERE id = ?", [
          output.holdId,
        ]);
        if (hold === undefined || hold.status === "released") return compensated();
        if (hold.status !== "held") return guardFailed(`hold ${output.holdId} is ${hold.status}`);
        const undo = await runAtomic(funds, [
          {
            name: "release",
            guarded: true,
            build: () => ({
              sql: "UPDATE holds SET status = 'released' WHERE id = ? AND status = 'held'",
              params: [output.holdId],
            }),
          },
          {
            name: "refund",
            guarded: true,
            build: () => ({
              sql: "UPDATE accounts SET balance = balance + (SELECT amount FROM holds WHERE id = ?) WHERE id = (SELECT account FROM holds WHERE id = ?)",
              params: [output.holdId, output.holdId],
            }),
          },
        ]);
        if (undo.isErr()) {
          if (undo.error.code === "conflict") return guardFailed(undo.error.message);
          throw undo.error;
        }
        return compensated();
      },
    })
    .step("confirm", {
      store: orders,
      kind: "pivot",
      output: z.object({ orderId: z.string() }),
      execute: async ({ input, outputs, handle }) => {
        await handle.run("INSERT INTO orders (id, hold_key, amount) VALUES (?, ?, ?)", [
          input.orderId,
          outputs.reserve.holdId,
          input.amount,
        ]);
        return { orderId: input.orderId };
      },
      probe: async ({ input, outputs, handle }) => {
        const row = await handle.get<{ hold_key: string }>(
          "SELECT hold_key FROM orders WHERE id = ?",
          [input.orderId],
        );
        return row?.hold_key === outputs.reserve.holdId
          ? committed({ orderId: input.orderId })
          : notCommitted();
      },
    })
    .step("capture", {
      store: funds,
      kind: "retriable",
      output: z.object({ captured: z.literal(true) }),
      execute: ({ handle: step, outputs, signal, deadline }) =>
        atomically(funds, step, { signal, deadline }, async (handle) => {
          const moved = await handle.run(
            "UPDATE holds SET status = 'captured' WHERE id = ? AND status = 'held'",
            [outputs.reserve.holdId],
          );
          if (moved.changes === 1) {
            await handle.run(
              "UPDATE accounts SET balance = balance + (SELECT amount FROM holds WHERE id = ?) WHERE id = 'merchant'",
              [outputs.reserve.holdId],
            );
          }
          return { captured: true as const };
        }),
    })
    .step("notify", {
      store: orders,
      kind: "retriable",
      output: z.object({ noticeKey: z.string() }),
      execute: async ({ handle, key, input }) => {
        await handle.run("INSERT OR IGNORE INTO notices (key, order_id) VALUES (?, ?)", [
          key,
          input.orderId,
        ]);
        return { noticeKey: key };
      },
    })
    .build();
}

/** Wraps a store so a hook sees every statement it runs, before and after, and every commit. */
export function hookStore(
  store: SqlStore,
  onBoundary: (name: string) => void,
  name: string,
): SqlStore {
  const wrap = (handle: SqliteHandle): SqliteHandle => {
    const hooked: SqliteHandle = {
      run: async (sql, params) => {
        const verb = sql.trim().split(/\s+/)[0]?.toLowerCase() ?? "sql";
        await onBoundary(`${name} before ${verb}`);
        const result = await handle.run(sql, params);
        await onBoundary(`${name} after ${verb}`);
        return result;
      },
      get: (sql, params) => handle.get(sql, params),
      all: (sql, params) => handle.all(sql, params),
      // A transaction handle stays one, so a step can tell it is inside a transaction already.
      ...(handle.savepoint === undefined
        ? {}
        : {
            savepoint: <T>(fn: (scope: SqliteTransactionHandle) => Promise<T>) =>
              (handle.savepoint as NonNullable<SqliteHandle["savepoint"]>)((inner) =>
                fn(wrap(inner) as SqliteTransactionHandle),
              ),
          }),
    };
    realHandles.set(hooked, handle);
    return hooked;
  };
  const transaction = store.transaction as NonNullable<SqlStore["transaction"]>;
  return defineStore({
    id: store.id,
    handle: wrap(store.handle),
    capabilities: store.capabilities,
    // Still the same in-process SQLite underneath: its attempts close as the store's do.
    ...(store.fence === undefined ? {} : { fence: store.fence }),
    transaction: async (work, scope) => {
      const result = await transaction((tx) => work(wrap(tx)), scope);
      await onBoundary(`${name} after commit`);
      return result;
    },
    apply: (handle, write, scope) => store.apply(handle, write, scope),
    affected: store.affected,
    ...(store.classifyError ? { classifyError: store.classifyError } : {}),
  }) as SqlStore;
}

/** Wraps a saga log so a hook sees every durable call, before and after. */
export function hookLog(log: SagaLog, onBoundary: (name: string) => void): SagaLog {
  const durable = LOG_WRITES;
  const inner = log.coCommit;
  const coCommit = inner && {
    storeId: inner.storeId,
    create: async (tx: unknown, record: SagaRecord, entries?: readonly NewStepEntry[]) => {
      onBoundary("before log.coCommit");
      await inner.create(unwrapHandle(tx), record, entries);
      onBoundary("after log.coCommit");
    },
    write: async (tx: unknown, ...rest: [string, number, Parameters<typeof inner.write>[3]]) => {
      onBoundary("before log.coCommit");
      await inner.write(unwrapHandle(tx), ...rest);
      onBoundary("after log.coCommit");
    },
  };
  const wrapped = new Proxy(log, {
    get(target, property, receiver) {
      if (property === "coCommit") return coCommit;
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || typeof property !== "string" || !durable.has(property)) {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return async (...args: unknown[]) => {
        onBoundary(`before log.${property}`);
        const result = await value.apply(target, args);
        onBoundary(`after log.${property}`);
        return result;
      };
    },
  });
  return wrapped;
}

/** What the stores say happened, judged from the database files alone. */
export async function judge(
  world: TransferWorld,
): Promise<{ state: "all" | "nothing"; total: number }> {
  const f = world.funds.handle;
  const o = world.orders.handle;
  const balances = await f.all<{ id: string; balance: number }>(
    "SELECT id, balance FROM accounts ORDER BY id",
  );
  // Number(): Postgres returns a bigint SUM as a string.
  const held = Number(
    (await f.get<{ s: number | null }>("SELECT SUM(amount) AS s FROM holds WHERE status = 'held'"))
      ?.s ?? 0,
  );
  const total = balances.reduce((sum, row) => sum + row.balance, 0) + held;
  const holds = await f.all<{ id: string; status: string }>("SELECT id, status FROM holds");
  const ours = await o.get<{ hold_key: string }>(
    "SELECT hold_key FROM orders WHERE id = 'o-1' AND hold_key <> 'someone-else'",
  );
  const notices = (await o.all("SELECT key FROM notices")).length;
  const alice = balances.find((b) => b.id === "alice")?.balance;
  const merchant = balances.find((b) => b.id === "merchant")?.balance;
  const describe = JSON.stringify({ balances, holds, ours, notices });
  if (
    ours &&
    notices === 1 &&
    holds.length === 1 &&
    holds[0]?.status === "captured" &&
    alice === INITIAL_TOTAL - AMOUNT &&
    merchant === AMOUNT
  ) {
    return { state: "all", total };
  }
  if (
    !ours &&
    notices === 0 &&
    holds.every((h) => h.status === "released") &&
    alice === INITIAL_TOTAL &&
    merchant === 0
  ) {
    return { state: "nothing", total };
  }
  throw new Error(`partial state after recovery: ${describe}`);
}

/** Every row of every table of both databases, for comparing one recovery pass with two. */
export async function dump(world: TransferWorld): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const [name, store] of [
    ["funds", world.funds],
    ["orders", world.orders],
  ] as const) {
    for (const table of await world.tables(store))
      out[`${name}.${table}`] = await store.handle.all(`SELECT * FROM "${table}" ORDER BY 1, 2`);
  }
  return JSON.stringify(out);
}
