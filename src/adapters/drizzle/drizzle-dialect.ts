import { LockstepDefinitionError } from "../../model/definition-error.js";
import { describeInstance, UnsupportedDialectError } from "../sql/unsupported-dialect.js";

/** Drizzle's class tag: a static property under this registered symbol on every Drizzle class. */
const ENTITY_KIND = Symbol.for("drizzle:entityKind");

/** The Drizzle drivers lockstep wraps, by the class name Drizzle gives their databases. */
const SUPPORTED: Readonly<Record<string, DrizzleDriver>> = {
  NodePgDatabase: "node-postgres",
  MySql2Database: "mysql2",
  BetterSQLite3Database: "better-sqlite3",
  LibSQLDatabase: "libsql",
  D1Database: "d1",
};

/** A Drizzle driver lockstep wraps, named as the module it comes from (`drizzle-orm/<driver>`). */
export type DrizzleDriver = "node-postgres" | "mysql2" | "better-sqlite3" | "libsql" | "d1";

/**
 * What lockstep reads of a Drizzle database besides its public API: the session Drizzle sends its
 * queries through, whose `client` is the driver's (a `pg.Pool`, a `mysql2` promise pool, a
 * better-sqlite3 `Database`, an `@libsql/client` client, a D1 binding).
 */
export interface DrizzleSession {
  readonly client: unknown;
  transaction(work: (tx: object) => unknown, config?: unknown): unknown;
  prepareQuery(...args: unknown[]): unknown;
  /** libSQL and D1: sends built queries in one batch (what `db.batch([…])` calls). */
  batch?(queries: readonly unknown[]): Promise<unknown[]>;
}

/** A Drizzle database as lockstep reads it. */
export interface DrizzleInternals {
  readonly $client: unknown;
  readonly session: DrizzleSession;
}

/**
 * The driver of a Drizzle database. Throws {@link UnsupportedDialectError} for a Drizzle database on
 * a driver lockstep does not wrap yet (postgres-js, Neon, the proxies, …), naming it, and a
 * `LockstepDefinitionError` naming the value for anything that is not a Drizzle database.
 */
export function drizzleDriverOf(db: unknown): DrizzleDriver {
  const kind = entityKindOf(db);
  if (kind === undefined || typeof (db as { session?: unknown }).session !== "object") {
    throw new LockstepDefinitionError(
      `Expected \`db\` to be a Drizzle database (from drizzle-orm/node-postgres, drizzle-orm/mysql2, drizzle-orm/better-sqlite3, drizzle-orm/libsql or drizzle-orm/d1), got ${describeInstance(db)}.`,
    );
  }
  const driver = (SUPPORTED as Record<string, DrizzleDriver>)[kind];
  if (driver === undefined) {
    throw new UnsupportedDialectError(
      "Drizzle",
      kind,
      Object.entries(SUPPORTED).map(([name, module]) => `${name} (drizzle-orm/${module})`),
    );
  }
  return driver;
}

function entityKindOf(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const kind = (value.constructor as unknown as Record<symbol, unknown> | undefined)?.[ENTITY_KIND];
  return typeof kind === "string" ? kind : undefined;
}

/**
 * A session like `session` whose queries go to `client`: what Drizzle's transaction and database
 * objects built on it send their statements through. Everything else (dialect, schema, logger,
 * cache) is the user's own session's.
 */
export function sessionOver(
  session: DrizzleSession,
  client: unknown,
  own: Partial<DrizzleSession> = {},
): DrizzleSession {
  const properties: PropertyDescriptorMap = { client: { value: client } };
  for (const [name, value] of Object.entries(own)) properties[name] = { value };
  return Object.create(session, properties) as DrizzleSession;
}

/**
 * A database like `db` whose query builders use `session`; `own` replaces methods of its own
 * (`batch`, to send through the session without Drizzle's wrapper).
 */
export function databaseOver<Db extends object>(
  db: Db,
  session: DrizzleSession,
  own: Record<string, unknown> = {},
): Db {
  const properties: PropertyDescriptorMap = { session: { value: session } };
  for (const [name, value] of Object.entries(own)) properties[name] = { value };
  return Object.create(db, properties) as Db;
}
