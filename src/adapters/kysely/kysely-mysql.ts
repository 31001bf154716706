import type { Kysely, QueryResult, Transaction } from "kysely";
import type { Pool } from "mysql2/promise";
import { abortWatchOf, type CallScope } from "../../core/deadline.js";
import { defineStore } from "../../core/store.js";
import { assertPool } from "../mysql/assert-pool.js";
import { classifyMysqlError } from "../mysql/classify-mysql-error.js";
import { mysqlStore } from "../mysql/mysql-store.js";
import { lendMysqlScope, queryThrough } from "../mysql/mysql-transaction.js";
import { refuseRootQuery, scopedQuery } from "../mysql/scoped-query.js";
import { type MysqlRaw, normalizeResult, paramsOf } from "../mysql/statements.js";
import { mysqlStoreId } from "../mysql/store-id.js";
import { sendUnlessAborted } from "../sql/root-query.js";
import { kyselyOver, transactionOver } from "./kysely-dialect.js";
import {
  affectedRows,
  type KyselyStore,
  type KyselyStoreOptions,
  type KyselyWrite,
} from "./kysely-types.js";

/**
 * `mysql2`'s answer as Kysely's MySQL connection gives it, except that a write's
 * `numAffectedRows` is the rows it matched, as `mysqlStore` counts them, so a guarded `UPDATE` that
 * sets a row to the values it holds still counts 1.
 */
function resultOf(raw: MysqlRaw): QueryResult<unknown> {
  const [answer] = raw;
  if (Array.isArray(answer)) return { rows: answer };
  const { rowCount, insertId } = normalizeResult(raw);
  return {
    numAffectedRows: BigInt(rowCount),
    ...(insertId === 0 ? {} : { insertId: BigInt(insertId) }),
    rows: [],
  };
}

/**
 * The promise pool under the client given to Kysely's `MysqlDialect`: a `mysql2` callback pool
 * (what the dialect takes) is used through its own promise API; a promise pool as it is.
 */
export function mysqlPoolOfClient(client: unknown): Pool {
  const promise =
    typeof (client as { promise?: unknown } | null)?.promise === "function" &&
    typeof (client as { getConnection?: unknown }).getConnection === "function"
      ? (client as { promise(): unknown }).promise()
      : client;
  assertPool(promise, "client");
  return promise;
}

/** `kyselyStore` on MySQL: lockstep's MySQL store, with Kysely objects over it. */
export function kyselyMysqlStore<DB>(db: Kysely<DB>, options: KyselyStoreOptions): KyselyStore<DB> {
  const pool = mysqlPoolOfClient(options.client);
  const id = options.id ?? mysqlStoreId(pool);
  const inner = mysqlStore(pool, {
    id,
    ...(options.isolation === undefined ? {} : { isolation: options.isolation }),
    ...(options.attempts === undefined ? {} : { attempts: options.attempts }),
  });
  const handle = kyselyOver(db, "mysql", async (sql, params) => {
    refuseRootQuery(id, sql);
    return resultOf((await pool.query(sql, paramsOf(params))) as unknown as MysqlRaw);
  });
  const transaction = <T>(work: (trx: Transaction<DB>) => Promise<T>, scope: CallScope) =>
    inner.transaction((lockstepTx) => {
      const trx = transactionOver(db, "mysql", async (sql, params) =>
        resultOf(await queryThrough(lockstepTx, sql, params, {})),
      );
      lendMysqlScope(trx, lockstepTx);
      return work(trx);
    }, scope);
  const store = defineStore<Kysely<DB>, KyselyWrite<DB>, unknown>({
    id,
    handle,
    handleFor: (scope) => {
      const abort = abortWatchOf(scope);
      return kyselyOver(db, "mysql", async (sql, params) =>
        resultOf(await scopedQuery(pool, id, abort, sql, params)),
      );
    },
    fence: { mode: "kill_and_wait" },
    capabilities: {
      transactions: true,
      conditionalWrite: true,
      versionsNeverReused: options.versionsNeverReused ?? false,
    },
    transaction,
    // A write whose call was aborted before it was sent is provably not applied.
    apply: (target, write, scope) => sendUnlessAborted(scope, async () => write(target)),
    affected: affectedRows,
    classifyError: classifyMysqlError,
  });
  return Object.freeze({ ...store, transaction, dialect: "mysql", close: () => {} });
}
