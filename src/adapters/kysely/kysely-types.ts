import type { Kysely, Transaction } from "kysely";
import type { CallScope } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import type { WriteStore } from "../../core/store.js";
import { describeValue } from "../../core/validate.js";
import type { PostgresIsolation } from "../postgres/postgres-store.js";

/** Options of `kyselyStore`. */
export interface KyselyStoreOptions {
  /**
   * The driver client you gave the Kysely dialect: the `pg.Pool` of `PostgresDialect({ pool })`,
   * the `mysql2` pool of `MysqlDialect({ pool })`, or the better-sqlite3 `Database` (on a file) of `SqliteDialect({ database })`. Kysely keeps its
   * driver private, and lockstep needs the client itself to give each transaction a connection of
   * its own and to discard one it abandons.
   *
   * @example `kyselyStore(db, { id: "orders-db", client: pool })`
   */
  readonly client: unknown;
  /**
   * The store's logical identity (`"orders-db"`), logged with every saga and compared on recovery.
   *
   * @default `postgres:<host>:<port>/<database>` or `mysql:<host>:<port>/<database>` from the
   *   pool's options, or `sqlite:<real path>`
   */
  readonly id?: string;
  /**
   * Whether the versions your guarded writes compare are never given to the same row twice (they
   * come from a sequence or counter never reset); yours to declare, lockstep cannot see the schema.
   *
   * @default false
   */
  readonly versionsNeverReused?: boolean;
  /**
   * Postgres and MySQL: the isolation level of every transaction.
   *
   * @default "read committed" on Postgres; the session's own level on MySQL
   */
  readonly isolation?: PostgresIsolation;
  /** Postgres and MySQL: how many times a serialization failure or deadlock runs the transaction. */
  readonly attempts?: number;
  /** SQLite only: how long lockstep's own connections wait for another process's lock. @default 5000 */
  readonly busyTimeoutMs?: number;
}

/**
 * A prepared write for `runAtomic`: a function that runs one Kysely statement on the handle it is
 * given and returns its result (`executeTakeFirst()`), with every precondition in the statement
 * itself; zero rows affected on a guarded write is a conflict.
 *
 * @example
 * ```ts
 * const claim: KyselyWrite<DB> = (db) =>
 *   db.updateTable("bounties").set({ status: "claimed" })
 *     .where("id", "=", id).where("status", "=", "open").executeTakeFirst();
 * ```
 */
export type KyselyWrite<DB> = (handle: Kysely<DB>) => PromiseLike<unknown>;

/** A lockstep store over a Kysely database, with Kysely objects as step handles. */
export interface KyselyStore<DB> extends WriteStore<Kysely<DB>, KyselyWrite<DB>, unknown> {
  /**
   * Runs `work` in one lockstep transaction and hands it a Kysely `Transaction<DB>` bound to it:
   * every query the work runs on `trx` runs inside that transaction and commits or rolls back with
   * it (and with the saga log's records, when the log co-commits with this store).
   */
  readonly transaction: <T>(
    work: (trx: Transaction<DB>) => Promise<T>,
    scope: CallScope,
  ) => Promise<T>;
  /** The Kysely dialect under the store. */
  readonly dialect: "postgres" | "mysql" | "sqlite";
  /**
   * Closes what lockstep opened: on SQLite its own connections to the file (shared with
   * `kyselySagaLog`); on Postgres and MySQL nothing, the pool is yours to end.
   */
  close(): void;
}

/** How many rows a Kysely write changed, from its result (`numUpdatedRows`, …) or the rows it returned. */
export function affectedRows(result: unknown): number {
  if (Array.isArray(result)) return result.length;
  if (typeof result === "object" && result !== null) {
    for (const field of ["numUpdatedRows", "numDeletedRows", "numInsertedOrUpdatedRows"]) {
      const value = (result as Record<string, unknown>)[field];
      if (typeof value === "bigint" || typeof value === "number") return Number(value);
    }
  }
  throw new StoreError(
    "unknown",
    `A Kysely write resolved with ${describeValue(result)}, which says nothing about how many rows it changed; return the query's executeTakeFirst() (an UpdateResult, DeleteResult or InsertResult).`,
  );
}
