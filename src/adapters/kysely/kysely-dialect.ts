import {
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  Kysely,
  type KyselyProps,
  MysqlAdapter,
  MysqlIntrospector,
  MysqlQueryCompiler,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryExecutor,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  Transaction,
} from "kysely";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import { describeInstance, UnsupportedDialectError } from "../sql/unsupported-dialect.js";

/** A Kysely dialect lockstep wraps. */
export type KyselyDialectName = "postgres" | "mysql" | "sqlite";

/**
 * The dialect of a Kysely database, read from its adapter. Throws {@link UnsupportedDialectError}
 * for a Kysely database of another dialect (MS SQL Server, …), naming its adapter, and a
 * `LockstepDefinitionError` naming the value for anything that is not a Kysely database.
 */
export function kyselyDialectOf(db: unknown): KyselyDialectName {
  const executor =
    typeof (db as { getExecutor?: unknown } | null)?.getExecutor === "function"
      ? (db as Kysely<unknown>).getExecutor()
      : undefined;
  if (!(db instanceof Kysely) && executor === undefined) {
    throw new LockstepDefinitionError(
      `Expected \`db\` to be a Kysely database (new Kysely({ dialect })), got ${describeInstance(db)}.`,
    );
  }
  const adapter = executor?.adapter;
  if (adapter instanceof PostgresAdapter) return "postgres";
  if (adapter instanceof MysqlAdapter) return "mysql";
  if (adapter instanceof SqliteAdapter) return "sqlite";
  const name = adapter?.constructor?.name ?? String(adapter);
  throw new UnsupportedDialectError("Kysely", name, [
    "PostgresAdapter (PostgresDialect over a pg.Pool)",
    "MysqlAdapter (MysqlDialect over a mysql2 pool)",
    "SqliteAdapter (SqliteDialect over a better-sqlite3 Database on a file)",
  ]);
}

/** Sends one compiled query and answers as a Kysely connection does. */
export type Execute = (sql: string, params: readonly unknown[]) => Promise<QueryResult<unknown>>;

/** A Kysely connection whose queries go to `execute`: a lockstep transaction's, or a root handle's. */
class ExecuteConnection implements DatabaseConnection {
  readonly #execute: Execute;

  constructor(execute: Execute) {
    this.#execute = execute;
  }

  executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    return this.#execute(compiled.sql, compiled.parameters) as Promise<QueryResult<R>>;
  }

  // biome-ignore lint/correctness/useYield: Kysely's connection interface requires the method.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new LockstepDefinitionError(
      "Streaming queries (`.stream()`) do not run through a lockstep handle; use `.execute()`.",
    );
  }
}

/**
 * A driver for Kysely's props that never connects: the handles lockstep builds get their
 * connection from their own provider, and a Kysely object's driver is reached only by `destroy`.
 */
const NO_DRIVER: Driver = Object.freeze({
  init: async () => {},
  acquireConnection: async () => {
    throw new LockstepDefinitionError("A lockstep Kysely handle has no driver of its own.");
  },
  beginTransaction: async () => {},
  commitTransaction: async () => {},
  rollbackTransaction: async () => {},
  releaseConnection: async () => {},
  destroy: async () => {},
});

/** The parts of a dialect a lockstep Kysely handle uses: its introspector (`db.introspection`). */
function dialectFor(name: KyselyDialectName): Dialect {
  if (name === "mysql") {
    return {
      createAdapter: () => new MysqlAdapter(),
      createDriver: () => NO_DRIVER,
      createIntrospector: (db) => new MysqlIntrospector(db),
      createQueryCompiler: () => new MysqlQueryCompiler(),
    };
  }
  return name === "postgres"
    ? {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => NO_DRIVER,
        createIntrospector: (db) => new PostgresIntrospector(db),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      }
    : {
        createAdapter: () => new SqliteAdapter(),
        createDriver: () => NO_DRIVER,
        createIntrospector: (db) => new SqliteIntrospector(db),
        createQueryCompiler: () => new SqliteQueryCompiler(),
      };
}

/** The props of a Kysely object like `db` (its plugins, compiler, adapter) whose queries go to `execute`. */
function propsOver(db: Kysely<unknown>, name: KyselyDialectName, execute: Execute): KyselyProps {
  const connection = new ExecuteConnection(execute);
  const executor: QueryExecutor = db.getExecutor().withConnectionProvider({
    provideConnection: (consumer) => consumer(connection),
  });
  const dialect = dialectFor(name);
  return { config: { dialect }, executor, driver: NO_DRIVER, dialect };
}

/** A Kysely database like `db` whose queries go to `execute`, each committed on its own. */
export function kyselyOver<DB>(
  db: Kysely<DB>,
  name: KyselyDialectName,
  execute: Execute,
): Kysely<DB> {
  return new Kysely<DB>(propsOver(db as Kysely<unknown>, name, execute));
}

/** A Kysely transaction like `db`'s whose queries go to `execute`, inside a lockstep transaction. */
export function transactionOver<DB>(
  db: Kysely<DB>,
  name: KyselyDialectName,
  execute: Execute,
): Transaction<DB> {
  return new Transaction<DB>(propsOver(db as Kysely<unknown>, name, execute));
}
