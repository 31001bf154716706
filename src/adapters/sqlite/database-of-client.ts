import { describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import { describeInstance } from "../sql/unsupported-dialect.js";
import { openDatabase, type SqliteDatabase } from "./database.js";
import type { RawSqliteDatabase, SqliteDriver } from "./sqlite-driver.js";

/** What lockstep reads of a better-sqlite3 `Database` an ORM was given. */
export interface BetterSqliteClient {
  readonly name: string;
  readonly memory: boolean;
  readonly open: boolean;
  prepare(sql: string): { readonly readonly: boolean };
}

// lockstep's own database on each client's file, so a store and a log on one client share it.
const opened = new WeakMap<object, SqliteDatabase>();

/** Refuses anything but an open better-sqlite3 `Database` on a file, naming `argument`. */
export function assertFileClient(
  client: unknown,
  argument: string,
): asserts client is BetterSqliteClient {
  const candidate = client as Partial<BetterSqliteClient> | null;
  if (
    typeof candidate !== "object" ||
    candidate === null ||
    typeof candidate.prepare !== "function" ||
    typeof candidate.name !== "string" ||
    typeof candidate.open !== "boolean"
  ) {
    throw new LockstepDefinitionError(
      `Expected \`${argument}\` to be a better-sqlite3 Database, got ${describeInstance(client)}.`,
    );
  }
  if (candidate.memory === true || candidate.name === "" || candidate.name === ":memory:") {
    throw new LockstepDefinitionError(
      `Expected \`${argument}\` to be a better-sqlite3 database on a file, got the in-memory database ${describeValue(candidate.name)}: lockstep runs its transactions on a connection of its own to the same file, which an in-memory database does not have. Use a file (a temporary one in tests).`,
    );
  }
  if (!candidate.open) {
    throw new LockstepDefinitionError(
      `The better-sqlite3 database ${describeValue(candidate.name)} given as \`${argument}\` is closed.`,
    );
  }
}

/**
 * lockstep's own database (as `openSqlite` opens it) on the file of a better-sqlite3 `Database` an
 * ORM uses: transactions run there, on a connection of lockstep's, behind the file's write gate, so
 * they own their connection and can await. Its connections are opened with the client's own
 * better-sqlite3 (the client's class), so the ORM adapters import no SQLite binding themselves.
 * Opened once per client and shared until closed.
 */
export function databaseOfClient(
  client: unknown,
  argument: string,
  busyTimeoutMs?: number,
): SqliteDatabase {
  assertFileClient(client, argument);
  const existing = opened.get(client);
  if (existing !== undefined && !existing.closed) return existing;
  const Binding = client.constructor as new (
    path: string,
    options: { fileMustExist: boolean },
  ) => RawSqliteDatabase;
  const driver: SqliteDriver = {
    name: "better-sqlite3",
    open: (path, fileMustExist) => new Binding(path, { fileMustExist }),
  };
  const database = openDatabase(
    driver,
    client.name,
    busyTimeoutMs === undefined ? {} : { busyTimeoutMs },
  );
  opened.set(client, database);
  return database;
}
