import type { PostgresHandle } from "../adapters/postgres/index.js";
import type { SqliteHandle } from "../adapters/sqlite/index.js";
import { LockstepDefinitionError } from "../index.js";

/** The few things the SQL ports ask of a database handle; placeholders are written `?`. */
export interface SqlClient {
  /** Runs a statement; resolves to how many rows it changed. */
  exec(sql: string, params?: readonly unknown[]): Promise<number>;
  /** Runs a query; resolves to its first row. */
  one<T>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  /** Runs a query; resolves to every row. */
  many<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/** How the SQL ports talk to one kind of database. */
export interface SqlDialect<Handle> {
  /** `"sqlite"` or `"postgres"`. */
  readonly name: string;
  /** Wraps a handle (root or transaction) as a {@link SqlClient}. */
  client(handle: Handle): SqlClient;
}

/** The dialect for handles of `lockstep/sqlite`. */
export const sqliteDialect: SqlDialect<SqliteHandle> = {
  name: "sqlite",
  client: (handle) => ({
    exec: async (sql, params = []) => (await handle.run(sql, params)).changes,
    one: (sql, params = []) => handle.get(sql, params),
    many: (sql, params = []) => handle.all(sql, params),
  }),
};

/** The dialect for handles of `lockstep/postgres`: `?` placeholders become `$1`, `$2`, … */
export const postgresDialect: SqlDialect<PostgresHandle> = {
  name: "postgres",
  client: (handle) => {
    const numbered = (sql: string) => {
      let n = 0;
      return sql.replace(/\?/g, () => `$${++n}`);
    };
    return {
      exec: async (sql, params = []) => (await handle.query(numbered(sql), [...params])).rowCount,
      one: async <T>(sql: string, params: readonly unknown[] = []) =>
        (await handle.query(numbered(sql), [...params])).rows[0] as T | undefined,
      many: async <T>(sql: string, params: readonly unknown[] = []) =>
        (await handle.query(numbered(sql), [...params])).rows as T[],
    };
  },
};

/**
 * Checks a table prefix. It is pasted into SQL text (table names cannot be bound as parameters),
 * so only letters, digits and underscores pass.
 */
export function tablePrefix(prefix: string): string {
  if (!/^[a-z_][a-z0-9_]*$/i.test(prefix)) {
    throw new LockstepDefinitionError(
      `Expected \`prefix\` to be letters, digits and underscores, got "${prefix}".`,
    );
  }
  return prefix;
}

/**
 * The two reads every SQL port makes of its table: one row by its key, and every row in key order,
 * each turned into the port's record by `of`.
 */
export function tableReads<Handle, Row, T>(
  dialect: SqlDialect<Handle>,
  table: string,
  key: string,
  of: (row: Row) => T,
): {
  /** The record with key `id`, read through `sql` (a transaction's, when inside one). */
  one(sql: SqlClient, id: string): Promise<T | undefined>;
  /** Every record, in key order. */
  all(handle: Handle): Promise<T[]>;
} {
  return {
    one: async (sql, id) => {
      const row = await sql.one<Row>(`SELECT * FROM ${table} WHERE ${key} = ?`, [id]);
      return row === undefined ? undefined : of(row);
    },
    all: async (handle) =>
      (await dialect.client(handle).many<Row>(`SELECT * FROM ${table} ORDER BY ${key}`)).map(of),
  };
}
