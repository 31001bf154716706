import type { Pool } from "mysql2/promise";
import { abortWatchOf, type CallScope } from "../../core/deadline.js";
import { assertPool } from "../mysql/assert-pool.js";
import { classifyMysqlError } from "../mysql/classify-mysql-error.js";
import type { MysqlTransactionHandle } from "../mysql/mysql-handle.js";
import { mysqlStore } from "../mysql/mysql-store.js";
import { lendMysqlScope, queryThrough } from "../mysql/mysql-transaction.js";
import { refuseRootQuery, scopedQuery } from "../mysql/scoped-query.js";
import {
  type MysqlDriverOptions,
  type MysqlRaw,
  normalizeResult,
  paramsOf,
  queryConfigOf,
} from "../mysql/statements.js";
import { mysqlStoreId } from "../mysql/store-id.js";
import { defineDrizzleStore } from "./define-drizzle-store.js";
import { type DrizzleInternals, databaseOver, sessionOver } from "./drizzle-dialect.js";
import type { DrizzleStoreOptions } from "./drizzle-store-options.js";
import {
  affectedRows,
  type DrizzleDatabase,
  type DrizzleTransaction,
  type DrizzleTransactionHandle,
  type DrizzleTransactionStore,
} from "./drizzle-types.js";

/** A statement as Drizzle's mysql2 session hands it to its client: text, or a config object. */
type QueryConfig =
  | string
  | (MysqlDriverOptions & { readonly sql: string; readonly values?: readonly unknown[] });

type Send = (
  sql: string,
  values: readonly unknown[] | undefined,
  options: MysqlDriverOptions | undefined,
) => Promise<MysqlRaw>;

/** What Drizzle's mysql2 session calls on its client. No `getConnection`: it is not a pool. */
interface MysqlClientLike {
  query(config: QueryConfig, values?: readonly unknown[]): Promise<MysqlRaw>;
  execute(config: QueryConfig, values?: readonly unknown[]): Promise<MysqlRaw>;
}

/**
 * A `mysql2` promise client as Drizzle's session uses it, whose statements go to `send`: Drizzle's
 * own row shape and type casting are passed through unchanged.
 */
function clientOver(send: Send): MysqlClientLike {
  const query = (config: QueryConfig, values?: readonly unknown[]) => {
    if (typeof config === "string") return send(config, values, undefined);
    const options: { -readonly [K in keyof MysqlDriverOptions]: MysqlDriverOptions[K] } = {};
    if (config.rowsAsArray !== undefined) options.rowsAsArray = config.rowsAsArray;
    if (config.typeCast !== undefined) options.typeCast = config.typeCast;
    return send(config.sql, values ?? config.values, options);
  };
  return { query, execute: query };
}

const CONTROL = /^\s*(begin|commit|rollback)\s*$/i;

/**
 * The client of one Drizzle transaction inside a lockstep transaction. Drizzle's
 * `session.transaction` sends `begin` before the work and `commit` or `rollback` after it: lockstep
 * has already begun, and commits or rolls back itself, so those three are answered here and never
 * sent. Every other statement goes through the lockstep transaction's handle, with its checks;
 * transaction control sent by the work itself is refused there.
 */
function transactionClient(tx: MysqlTransactionHandle): MysqlClientLike & { settled: boolean } {
  let begun = false;
  const client = {
    settled: false,
    ...clientOver((sql, values, options) => {
      const control = CONTROL.exec(sql)?.[1]?.toLowerCase();
      if (control === "begin" && !begun) {
        begun = true;
        return Promise.resolve(ANSWER);
      }
      if (control !== undefined && control !== "begin" && client.settled) {
        return Promise.resolve(ANSWER);
      }
      return queryThrough(tx, sql, values, options ?? {});
    }),
  };
  return client;
}

/** The server's answer to a statement that changed nothing, as `mysql2` gives it. */
const ANSWER: MysqlRaw = Object.freeze([
  Object.freeze({ affectedRows: 0, insertId: 0, info: "", serverStatus: 0, warningStatus: 0 }),
  undefined,
]);

/**
 * How many rows a Drizzle mysql2 write matched: a write resolves with `mysql2`'s
 * `[ResultSetHeader, undefined]`, counted as `mysqlStore` counts it (rows matched); rows otherwise.
 */
export function mysqlAffectedRows(result: unknown): number {
  if (Array.isArray(result) && result.length === 2 && isHeader(result[0])) {
    return normalizeResult(result as unknown as MysqlRaw).rowCount;
  }
  return affectedRows(result);
}

function isHeader(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { affectedRows?: unknown }).affectedRows === "number"
  );
}

/** The promise pool Drizzle's mysql2 session sends through (`drizzle()` wraps a callback pool). */
export function mysqlPoolOf(db: DrizzleDatabase): Pool {
  const pool = (db as unknown as DrizzleInternals).session.client;
  assertPool(pool, "db.$client");
  return pool;
}

/** `drizzleStore` on mysql2: lockstep's MySQL store, with Drizzle sessions over it. */
export function drizzleMysqlStore<Db extends DrizzleDatabase>(
  db: Db,
  options: DrizzleStoreOptions,
): DrizzleTransactionStore<Db> {
  const pool = mysqlPoolOf(db);
  const id = options.id ?? mysqlStoreId(pool);
  const isolation = options.isolation;
  const inner = mysqlStore(pool, {
    id,
    ...(isolation === undefined ? {} : { isolation }),
    ...(options.attempts === undefined ? {} : { attempts: options.attempts }),
  });
  const session = (db as unknown as DrizzleInternals).session;
  const rootOver = (send: Send) =>
    databaseOver(
      db,
      sessionOver(session, clientOver(send)),
    ) as unknown as DrizzleTransactionHandle<Db>;
  const handle = rootOver(async (sql, values, driverOptions) => {
    refuseRootQuery(id, sql);
    return (await pool.query(
      queryConfigOf(sql, driverOptions) as string,
      paramsOf(values),
    )) as unknown as MysqlRaw;
  });
  const transaction = <T>(work: (tx: DrizzleTransaction<Db>) => Promise<T>, scope: CallScope) =>
    inner.transaction(async (lockstepTx) => {
      const client = transactionClient(lockstepTx);
      const over = sessionOver(session, client);
      return (await over.transaction(async (tx: object) => {
        lendMysqlScope(tx, lockstepTx);
        try {
          return await work(tx as DrizzleTransaction<Db>);
        } finally {
          client.settled = true;
        }
      })) as T;
    }, scope);
  return defineDrizzleStore(
    {
      id,
      handle,
      handleFor: (scope) => {
        const abort = abortWatchOf(scope);
        return rootOver((sql, values, driverOptions) =>
          scopedQuery(pool, id, abort, sql, values, driverOptions),
        );
      },
      fence: { mode: "kill_and_wait" },
      capabilities: { transactions: true },
      versionsNeverReused: options.versionsNeverReused,
      affected: mysqlAffectedRows,
      classifyError: classifyMysqlError,
      driver: "mysql2",
    },
    { transaction },
  );
}
