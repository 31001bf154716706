import type { PostgresIsolation } from "../postgres/postgres-store.js";

/** Options of `drizzleStore`. */
export interface DrizzleStoreOptions {
  /**
   * The store's logical identity, a name you choose for the database (`"orders-db"`). It is logged
   * in every saga's definition and compared on recovery, so name it. A saga log on the same
   * database declares it (`drizzleSagaLog(db, { store })`) to commit its records inside this
   * store's transactions.
   *
   * @default the id lockstep's own store on the same driver derives: `postgres:<host>:<port>/<database>`
   * or `mysql:<host>:<port>/<database>` from the pool's options, or `sqlite:<absolute real path>`.
   * On libSQL and D1 there is none to derive (a client or binding carries no identity), so it is
   * required there.
   * @example `drizzleStore(db, { id: "orders-db" })`
   */
  readonly id?: string;
  /**
   * Whether the versions your guarded writes compare (a `version` column) are never given to the
   * same row twice — not after it is deleted and inserted again — because they come from a
   * sequence or counter that is never reset. lockstep cannot see your schema, so it is yours to
   * declare; see the `versionsNeverReused` capability.
   *
   * @default false
   * @example `drizzleStore(db, { id: "orders-db", versionsNeverReused: true })`
   */
  readonly versionsNeverReused?: boolean;
  /**
   * node-postgres and mysql2: the isolation level of every transaction, as `postgresStore` or
   * `mysqlStore` takes it.
   *
   * @default "read committed" on node-postgres; the session's own level on mysql2
   * @example `drizzleStore(db, { id: "orders-db", isolation: "serializable" })`
   */
  readonly isolation?: PostgresIsolation;
  /**
   * node-postgres and mysql2: how many times a transaction that failed with a serialization failure
   * or deadlock runs, as `postgresStore` or `mysqlStore` takes it; `work` must then be re-runnable.
   *
   * @default on node-postgres 3 under "serializable" and "repeatable read", 1 otherwise; 3 on mysql2
   */
  readonly attempts?: number;
  /**
   * better-sqlite3 only: how long, in milliseconds, lockstep's own connections to the file wait
   * for a lock another process holds, as `openSqlite` takes it.
   *
   * @default 5000
   */
  readonly busyTimeoutMs?: number;
  /**
   * libSQL and D1 only: prepended to the store's own tables (`<prefix>batch_guard`, which never
   * holds a row, and `<prefix>fence`), as `libsqlStore` and `d1Store` take it. Give the saga log
   * on the same database the same prefix.
   *
   * @default "lockstep_"
   */
  readonly tablePrefix?: string;
}
