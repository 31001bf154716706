import type { Kysely, QueryResult, Transaction } from "kysely";
import type { QueryResult as PgResult, Pool } from "pg";
import { abortWatchOf, type CallScope } from "../../core/deadline.js";
import { defineStore } from "../../core/store.js";
import { assertPool } from "../postgres/assert-pool.js";
import { classifyPostgresError } from "../postgres/classify-postgres-error.js";
import { postgresStore } from "../postgres/postgres-store.js";
import { lendPostgresScope, queryThrough } from "../postgres/postgres-transaction.js";
import { refuseRootQuery, scopedQuery } from "../postgres/scoped-query.js";
import { postgresStoreId } from "../postgres/store-id.js";
import { sendUnlessAborted } from "../sql/root-query.js";
import { kyselyOver, transactionOver } from "./kysely-dialect.js";
import {
  affectedRows,
  type KyselyStore,
  type KyselyStoreOptions,
  type KyselyWrite,
} from "./kysely-types.js";

const AFFECTS_ROWS = new Set(["INSERT", "UPDATE", "DELETE", "MERGE"]);

/** `pg`'s answer as Kysely's Postgres connection gives it. */
function resultOf(raw: PgResult | PgResult[]): QueryResult<unknown> {
  const result = Array.isArray(raw) ? (raw.at(-1) as PgResult) : raw;
  const rows = result.rows ?? [];
  return AFFECTS_ROWS.has(result.command) && result.rowCount !== null
    ? { numAffectedRows: BigInt(result.rowCount), rows }
    : { rows };
}

/** `kyselyStore` on Postgres: lockstep's Postgres store, with Kysely objects over it. */
export function kyselyPostgresStore<DB>(
  db: Kysely<DB>,
  options: KyselyStoreOptions,
): KyselyStore<DB> {
  const pool = options.client as Pool;
  assertPool(pool, "client");
  const id = options.id ?? postgresStoreId(pool);
  const inner = postgresStore(pool, {
    id,
    ...(options.isolation === undefined ? {} : { isolation: options.isolation }),
    ...(options.attempts === undefined ? {} : { attempts: options.attempts }),
  });
  const handle = kyselyOver(db, "postgres", async (sql, params) => {
    refuseRootQuery(id, sql);
    return resultOf(await pool.query(sql, [...params]));
  });
  const transaction = <T>(work: (trx: Transaction<DB>) => Promise<T>, scope: CallScope) =>
    inner.transaction((lockstepTx) => {
      const trx = transactionOver(db, "postgres", async (sql, params) =>
        resultOf(await queryThrough(lockstepTx, sql, params, {})),
      );
      lendPostgresScope(trx, lockstepTx);
      return work(trx);
    }, scope);
  const store = defineStore<Kysely<DB>, KyselyWrite<DB>, unknown>({
    id,
    handle,
    handleFor: (scope) => {
      const abort = abortWatchOf(scope);
      return kyselyOver(db, "postgres", async (sql, params) =>
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
    classifyError: classifyPostgresError,
  });
  return Object.freeze({ ...store, transaction, dialect: "postgres", close: () => {} });
}
