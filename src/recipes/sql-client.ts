import type { MysqlHandle } from "../adapters/mysql/index.js";
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
  /** `"sqlite"`, `"postgres"` or `"mysql"`. */
  readonly name: string;
  /** Wraps a handle (root or transaction) as a {@link SqlClient}. */
  client(handle: Handle): SqlClient;
  /**
   * How the database spells what SQL databases disagree on.
   *
   * @default standardSpelling (Postgres and SQLite)
   */
  readonly spelling?: SqlSpelling;
}

/** The value an upsert proposed for a column, and the one the conflicting row holds. */
export interface UpsertColumns {
  proposed(column: string): string;
  existing(column: string): string;
}

/**
 * The few statements the SQL ports write differently per database: text keys, inserts that skip an
 * existing key, upserts, and a unique key over only some rows.
 */
export interface SqlSpelling {
  /** The column type of a text key (a primary key, or a column of a unique key). */
  readonly keyType: string;
  /** `INSERT INTO table (columns) VALUES (?, …)` that does nothing when a row with its `key` exists. */
  insertOrIgnore(table: string, columns: readonly string[], key: string): string;
  /**
   * `INSERT INTO table (columns) VALUES (?, …)` that, when a row with its `key` exists, sets each
   * column of `set` to the expression given, written with {@link UpsertColumns}.
   */
  upsert(
    table: string,
    columns: readonly string[],
    key: string,
    set: (columns: UpsertColumns) => Readonly<Record<string, string>>,
  ): string;
  /**
   * At most one row per `column` among the rows where `condition` holds, as the unique key `name`:
   * text to append to the `CREATE TABLE`'s column list, and statements to run after it.
   */
  uniqueWhere(
    table: string,
    name: string,
    column: string,
    condition: string,
  ): { readonly columns: string; readonly statements: readonly string[] };
}

const valuesOf = (columns: readonly string[]) => columns.map(() => "?").join(", ");

const assignments = (set: Readonly<Record<string, string>>) =>
  Object.entries(set)
    .map(([column, value]) => `${column} = ${value}`)
    .join(", ");

/** Postgres's and SQLite's spelling: `ON CONFLICT`, `excluded`, partial unique indexes. */
export const standardSpelling: SqlSpelling = {
  keyType: "TEXT",
  insertOrIgnore: (table, columns, key) =>
    `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${valuesOf(columns)}) ON CONFLICT (${key}) DO NOTHING`,
  upsert: (table, columns, key, set) =>
    `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${valuesOf(columns)}) ON CONFLICT (${key}) DO UPDATE SET ${assignments(
      set({ proposed: (c) => `excluded.${c}`, existing: (c) => `${table}.${c}` }),
    )}`,
  uniqueWhere: (table, name, column, condition) => ({
    columns: "",
    statements: [
      `CREATE UNIQUE INDEX IF NOT EXISTS ${name} ON ${table} (${column}) WHERE ${condition}`,
    ],
  }),
};

/**
 * MySQL's and MariaDB's spelling: `VARCHAR` keys (InnoDB cannot index a whole `TEXT`),
 * `INSERT IGNORE`, `ON DUPLICATE KEY UPDATE … VALUES(column)`, and a unique key over a stored
 * generated column that is `NULL` outside `condition` (InnoDB has no partial indexes).
 */
export const mysqlSpelling: SqlSpelling = {
  keyType: "VARCHAR(191)",
  insertOrIgnore: (table, columns) =>
    `INSERT IGNORE INTO ${table} (${columns.join(", ")}) VALUES (${valuesOf(columns)})`,
  upsert: (table, columns, _key, set) =>
    `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${valuesOf(columns)}) ON DUPLICATE KEY UPDATE ${assignments(
      set({ proposed: (c) => `VALUES(${c})`, existing: (c) => c }),
    )}`,
  uniqueWhere: (_table, name, column, condition) => ({
    columns: `, ${column}_when VARCHAR(191) AS (CASE WHEN ${condition} THEN ${column} END) STORED, UNIQUE KEY ${name} (${column}_when)`,
    statements: [],
  }),
};

/** The spelling of `dialect`. */
export function spellingOf(dialect: SqlDialect<unknown>): SqlSpelling {
  return dialect.spelling ?? standardSpelling;
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
 * The dialect for handles of `lockstep/mysql` (MySQL 8, MariaDB 10.6 and later). `exec` resolves to
 * the rows a statement matched, as `mysqlStore` counts them.
 */
export const mysqlDialect: SqlDialect<MysqlHandle> = {
  name: "mysql",
  spelling: mysqlSpelling,
  client: (handle) => ({
    exec: async (sql, params = []) => (await handle.query(sql, params)).rowCount,
    one: async <T>(sql: string, params: readonly unknown[] = []) =>
      (await handle.query<T>(sql, params)).rows[0],
    many: async <T>(sql: string, params: readonly unknown[] = []) =>
      (await handle.query<T>(sql, params)).rows,
  }),
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
