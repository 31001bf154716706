import type { Pool, QueryConfig, QueryResult } from "pg";
import { abortWatchOf, type CallScope } from "../../core/deadline.js";
import { assertPool } from "../postgres/assert-pool.js";
import { classifyPostgresError } from "../postgres/classify-postgres-error.js";
import type { PostgresTransactionHandle } from "../postgres/postgres-handle.js";
import { postgresStore } from "../postgres/postgres-store.js";
import {
  type DriverOptions,
  lendPostgresScope,
  queryThrough,
} from "../postgres/postgres-transaction.js";
import { refuseRootQuery, scopedQuery } from "../postgres/scoped-query.js";
import { postgresStoreId } from "../postgres/store-id.js";
import { defineDrizzleStore } from "./define-drizzle-store.js";
import { type DrizzleInternals, databaseOver, sessionOver } from "./drizzle-dialect.js";
import type { DrizzleStoreOptions } from "./drizzle-store-options.js";
import type {
  DrizzleDatabase,
  DrizzleTransaction,
  DrizzleTransactionHandle,
  DrizzleTransactionStore,
} from "./drizzle-types.js";

/** What Drizzle's node-postgres session calls on its client. */
interface PgClientLike {
  query(config: string | QueryConfig, values?: unknown[]): Promise<QueryResult | QueryResult[]>;
}

type Send = (
  sql: string,
  values: readonly unknown[] | undefined,
  options: DriverOptions | undefined,
) => Promise<QueryResult | QueryResult[]>;

/**
 * A `pg` client as Drizzle's session uses it, whose queries go to `send`: Drizzle's own query
 * config (row mode, type parsers, statement name) is passed through unchanged.
 */
function clientOver(send: Send): PgClientLike {
  return {
    query(config, values) {
      if (typeof config === "string") return send(config, values, undefined);
      const options: { -readonly [K in keyof DriverOptions]: DriverOptions[K] } = {};
      if (config.name !== undefined) options.name = config.name;
      if (config.types !== undefined) options.types = config.types;
      if ((config as { rowMode?: unknown }).rowMode === "array") options.rowMode = "array";
      return send(config.text, values ?? config.values, options);
    },
  };
}

const CONTROL = /^\s*(begin|commit|rollback)\s*$/i;

/**
 * The client of one Drizzle transaction inside a lockstep transaction. Drizzle's
 * `session.transaction` sends `begin` before the work and `commit` or `rollback` after it: lockstep
 * has already begun, and commits or rolls back itself, so those three are answered here and never
 * sent. Every other statement goes through the lockstep transaction's handle, with its checks;
 * transaction control sent by the work itself is refused there.
 */
function transactionClient(tx: PostgresTransactionHandle): PgClientLike & { settled: boolean } {
  let begun = false;
  const client = {
    settled: false,
    ...clientOver((sql, values, options) => {
      const control = CONTROL.exec(sql)?.[1]?.toLowerCase();
      if (control === "begin" && !begun) {
        begun = true;
        return Promise.resolve(answer("BEGIN"));
      }
      if (control !== undefined && control !== "begin" && client.settled) {
        return Promise.resolve(answer(control.toUpperCase()));
      }
      return queryThrough(tx, sql, values, options ?? {});
    }),
  };
  return client;
}

function answer(command: string): QueryResult {
  return { command, rowCount: null, oid: 0, fields: [], rows: [] } as unknown as QueryResult;
}

/** `drizzleStore` on node-postgres: lockstep's Postgres store, with Drizzle sessions over it. */
export function drizzlePostgresStore<Db extends DrizzleDatabase>(
  db: Db,
  options: DrizzleStoreOptions,
): DrizzleTransactionStore<Db> {
  const internals = db as unknown as DrizzleInternals;
  const pool = internals.$client as Pool;
  assertPool(pool, "db.$client");
  const id = options.id ?? postgresStoreId(pool);
  const inner = postgresStore(pool, {
    id,
    ...(options.isolation === undefined ? {} : { isolation: options.isolation }),
    ...(options.attempts === undefined ? {} : { attempts: options.attempts }),
  });
  const session = internals.session;
  const rootOver = (send: Send) =>
    databaseOver(
      db,
      sessionOver(session, clientOver(send)),
    ) as unknown as DrizzleTransactionHandle<Db>;
  const handle = rootOver(async (sql, values, driverOptions) => {
    refuseRootQuery(id, sql);
    return (await pool.query({
      ...driverOptions,
      text: sql,
      ...(values === undefined ? {} : { values: [...values] }),
    })) as QueryResult;
  });
  const transaction = <T>(work: (tx: DrizzleTransaction<Db>) => Promise<T>, scope: CallScope) =>
    inner.transaction(async (lockstepTx) => {
      const client = transactionClient(lockstepTx);
      const over = sessionOver(session, client);
      return (await over.transaction(async (tx: object) => {
        lendPostgresScope(tx, lockstepTx);
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
      classifyError: classifyPostgresError,
      driver: "node-postgres",
    },
    { transaction },
  );
}
