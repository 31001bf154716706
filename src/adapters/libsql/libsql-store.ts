import type { CallScope } from "../../core/deadline.js";
import { defineStore, type WriteStore } from "../../core/store.js";
import { assertName, describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import {
  type BatchHandle,
  type BatchWrite,
  type BatchWriteResult,
  checkWrite,
  fencedBatchHandle,
  refuseIfAborted,
  rootBatchHandle,
} from "../sql/batch-handle.js";
import { runDeferredBatch } from "../sql/deferred-batch.js";
import { batchTables } from "../sql/guarded-batch-sql.js";
import { assertTablePrefix } from "../sql/saga-log-tables.js";
import { classifyLibsqlError } from "./classify-libsql-error.js";
import { type LibsqlClientLike, libsqlDatabaseOf } from "./libsql-database.js";
import { runLibsqlTransaction } from "./libsql-transaction.js";

/** How step code reads and writes a libSQL store; see {@link BatchHandle}. */
export type LibsqlHandle = BatchHandle;
/** A prepared write for a libSQL store; see {@link BatchWrite}. */
export type LibsqlWrite = BatchWrite;
/** What a {@link LibsqlWrite} came to. */
export type LibsqlWriteResult = BatchWriteResult;

/** A libSQL store: atomic batches, guarded writes and, unless batch-only, transactions. */
export type LibsqlStore = WriteStore<LibsqlHandle, LibsqlWrite, LibsqlWriteResult>;

/** Options of {@link libsqlStore}. */
export interface LibsqlStoreOptions {
  /**
   * The store's logical identity, a name you choose for the database (`"app-db"`). A client
   * carries no identity lockstep could derive, so it is required; a `libsqlSagaLog` on the same
   * client declares it (`store`, `coCommitWith`) to co-commit its records.
   */
  readonly id: string;
  /**
   * `"transaction"`: interactive transactions (`client.transaction("write")`) and atomic batches;
   * `runAtomic` and co-committed saga steps use a transaction. `"batch"`: atomic batches only, as
   * D1 — for a remote database over HTTP, where an interactive transaction costs a round trip per
   * statement and holds the server's lock across them; co-committed steps are then applied in one
   * batch with their log records and a fencing check.
   * @default "transaction"
   */
  readonly mode?: "transaction" | "batch";
  /**
   * Whether the database is a local file (`file:`) in this process, whose calls cannot outlive
   * themselves (`fence: { mode: "in_process" }`). Otherwise step calls are fenced by token, as on
   * D1 (`fence_token`). @default true
   */
  readonly local?: boolean;
  /** Prepended to the store's own tables (`<prefix>batch_guard`, `<prefix>fence`). @default "lockstep_" */
  readonly tablePrefix?: string;
  /** Declares that your guarded writes compare versions that are never reused. @default false */
  readonly versionsNeverReused?: boolean;
}

/**
 * Wraps an `@libsql/client` client (see `openLibsql`) as a lockstep store declaring `atomicBatch`
 * and `conditionalWrite`, and `transactions` unless `mode: "batch"`. Errors are classified by
 * `classifyLibsqlError`.
 *
 * @example
 * ```ts
 * const client = await openLibsql("file:./app.db");
 * const store = libsqlStore(client, { id: "app-db" });
 * const log = libsqlSagaLog(client, { store });
 * ```
 */
export function libsqlStore(client: LibsqlClientLike, options: LibsqlStoreOptions): LibsqlStore {
  assertLibsqlClient(client);
  const id = (options as Partial<LibsqlStoreOptions> | undefined)?.id;
  assertName("id", id);
  const mode = options.mode ?? "transaction";
  if (mode !== "transaction" && mode !== "batch") {
    throw new LockstepDefinitionError(
      `Expected \`mode\` to be "transaction" or "batch", got ${describeValue(mode)}.`,
    );
  }
  const prefix = options.tablePrefix ?? "lockstep_";
  assertTablePrefix(prefix);
  const database = libsqlDatabaseOf(client, prefix);
  const { sql } = database;
  const local = options.local ?? true;
  const tables = batchTables(prefix);
  const common = {
    id,
    handle: rootBatchHandle(sql),
    batch: (writes: readonly LibsqlWrite[], scope: CallScope) =>
      rootBatchHandle(sql, scope).batch(writes),
    // One statement: a guarded write that loses affects nothing, and runAtomic reads that.
    apply: async (target: LibsqlHandle, write: LibsqlWrite, scope: CallScope) => {
      const checked = checkWrite(write, 0);
      refuseIfAborted(scope);
      return target.run(checked.sql, checked.params);
    },
    affected: (result: LibsqlWriteResult) => result.changes,
    classifyError: classifyLibsqlError,
    ...(local
      ? { fence: { mode: "in_process" } as const }
      : {
          fence: { mode: "fence_token" } as const,
          handleFor: (scope: CallScope, call: Parameters<typeof fencedBatchHandle>[2]) =>
            fencedBatchHandle(sql, tables.fence, call, scope),
        }),
  };
  const versionsNeverReused = options.versionsNeverReused ?? false;
  if (mode === "batch") {
    return defineStore<LibsqlHandle, LibsqlWrite, LibsqlWriteResult>({
      ...common,
      capabilities: { atomicBatch: true, conditionalWrite: true, versionsNeverReused },
      deferredBatch: (work, scope) => runDeferredBatch(id, sql, sql, work, scope),
    });
  }
  return defineStore<LibsqlHandle, LibsqlWrite, LibsqlWriteResult>({
    ...common,
    capabilities: {
      transactions: true,
      atomicBatch: true,
      conditionalWrite: true,
      versionsNeverReused,
    },
    transaction: (work, scope) => runLibsqlTransaction(id, client, database, work, scope),
  });
}

/** Refuses anything that is not an `@libsql/client` client, naming the value. */
export function assertLibsqlClient(
  client: unknown,
  argument = "client",
): asserts client is LibsqlClientLike {
  const c = client as Partial<Record<"execute" | "batch" | "transaction", unknown>> | null;
  if (
    typeof client !== "object" ||
    client === null ||
    typeof c?.execute !== "function" ||
    typeof c.batch !== "function" ||
    typeof c.transaction !== "function"
  ) {
    throw new LockstepDefinitionError(
      `Expected \`${argument}\` to be an @libsql/client client (from openLibsql() or createClient()), got ${describeValue(client)}.`,
    );
  }
}
