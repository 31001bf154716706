import { Mutex } from "../memory/mutex.js";
import { batchTables, GuardedBatchSql } from "../sql/guarded-batch-sql.js";
import { classifyLibsqlError } from "./classify-libsql-error.js";
import { type LibsqlExecutor, libsqlDriver } from "./libsql-driver.js";

/** What lockstep uses of an `@libsql/client` `Client`: statements, batches and transactions. */
export interface LibsqlClientLike extends LibsqlExecutor {
  transaction(mode: "write"): Promise<LibsqlTransactionLike>;
}

/** What lockstep uses of an `@libsql/client` interactive `Transaction`. */
export interface LibsqlTransactionLike extends LibsqlExecutor {
  commit(): Promise<void>;
  rollback(): Promise<void>;
  close(): void;
}

/** The state every store and log on one client shares. */
export interface LibsqlDatabase {
  readonly sql: GuardedBatchSql;
  readonly prefix: string;
  /** Set-up a log started (its tables), which a transaction waits for before it begins. */
  readonly pending: Set<Promise<unknown>>;
  /**
   * Held by a transaction for its whole life and by every statement or batch sent outside one,
   * so that a statement from elsewhere waits for an open transaction instead of meeting its lock.
   */
  readonly gate: Mutex;
  /**
   * The client with every call made while holding `gate`, answering with the client's own results:
   * what `sql` sends through, and what an ORM's root handle sends through.
   */
  readonly executor: LibsqlExecutor;
}

/** `client` with every call made while holding `gate`. */
function gated(client: LibsqlExecutor, gate: Mutex): LibsqlExecutor {
  const hold = async <T>(call: () => Promise<T>): Promise<T> => {
    const release = await gate.lock();
    try {
      return await call();
    } finally {
      release();
    }
  };
  return {
    execute: (statement) => hold(() => client.execute(statement)),
    batch: (statements, mode) => hold(() => client.batch(statements, mode)),
  };
}

const DATABASES = new WeakMap<object, LibsqlDatabase>();

/** The shared state of a client and prefix, so its stores and logs agree on one database. */
export function libsqlDatabaseOf(client: LibsqlClientLike, prefix: string): LibsqlDatabase {
  const known = DATABASES.get(client);
  if (known !== undefined && known.prefix === prefix) return known;
  const gate = new Mutex();
  const executor = gated(client, gate);
  const database: LibsqlDatabase = {
    gate,
    executor,
    sql: new GuardedBatchSql(
      libsqlDriver(executor, false),
      batchTables(prefix),
      "libSQL",
      classifyLibsqlError,
    ),
    prefix,
    pending: new Set(),
  };
  DATABASES.set(client, database);
  return database;
}
