import type { Kysely, QueryResult, Transaction } from "kysely";
import type { CallScope } from "../../core/deadline.js";
import { defineStore } from "../../core/store.js";
import { sendUnlessAborted } from "../sql/root-query.js";
import { classifySqliteError } from "../sqlite/classify-sqlite-error.js";
import { engineOf } from "../sqlite/database.js";
import { databaseOfClient } from "../sqlite/database-of-client.js";
import type { SqliteRunResult } from "../sqlite/sqlite-handle.js";
import { sqliteStore } from "../sqlite/sqlite-store.js";
import { lendSqliteScope, sqliteScopeOf } from "../sqlite/sqlite-transaction.js";
import { guardSqliteClient } from "./guard-sqlite-client.js";
import { kyselyOver, transactionOver } from "./kysely-dialect.js";
import {
  affectedRows,
  type KyselyStore,
  type KyselyStoreOptions,
  type KyselyWrite,
} from "./kysely-types.js";

/** A statement's `auto` answer (rows, or what it changed) as Kysely's SQLite connection gives it. */
function resultOf(answer: unknown): QueryResult<unknown> {
  if (Array.isArray(answer)) return { rows: answer };
  const { changes, lastInsertRowid } = answer as SqliteRunResult;
  return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
}

/** `kyselyStore` on SQLite: lockstep's SQLite store on the client's file, with Kysely objects over it. */
export function kyselySqliteStore<DB>(
  db: Kysely<DB>,
  options: KyselyStoreOptions,
): KyselyStore<DB> {
  const database = databaseOfClient(options.client, "client", options.busyTimeoutMs);
  const engine = engineOf(database);
  const inner = sqliteStore(database, options.id === undefined ? {} : { id: options.id });
  guardSqliteClient(options.client, engine.gate, inner.id);
  // Reads at once on lockstep's reader connection; writes behind the write gate.
  const handle = kyselyOver(db, "sqlite", async (sql, params) =>
    resultOf(await engine.rootStatement(sql, params, "auto")),
  );
  const transaction = <T>(work: (trx: Transaction<DB>) => Promise<T>, scope: CallScope) =>
    inner.transaction((lockstepTx) => {
      const lent = sqliteScopeOf(lockstepTx);
      if (lent === undefined) throw new Error("lockstep: expected a SQLite transaction handle.");
      const { context } = lent;
      const trx = transactionOver(db, "sqlite", async (sql, params) =>
        resultOf(context.statement(lent, sql, params, "auto")),
      );
      lendSqliteScope(trx, lockstepTx);
      return work(trx);
    }, scope);
  const store = defineStore<Kysely<DB>, KyselyWrite<DB>, unknown>({
    id: inner.id,
    handle,
    fence: { mode: "in_process" },
    capabilities: {
      transactions: true,
      conditionalWrite: true,
      versionsNeverReused: options.versionsNeverReused ?? false,
    },
    transaction,
    // A write whose call was aborted before it was sent is provably not applied.
    apply: (target, write, scope) => sendUnlessAborted(scope, async () => write(target)),
    affected: affectedRows,
    classifyError: classifySqliteError,
  });
  return Object.freeze({
    ...store,
    transaction,
    dialect: "sqlite",
    close: () => database.close(),
  });
}
