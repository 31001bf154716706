import { LockstepRuntimeError } from "../../model/runtime-error.js";
import type {
  RawSqliteDatabase,
  RawSqliteStatement,
  SqliteDriver,
} from "../sqlite/sqlite-driver.js";
import type { SqliteRunResult } from "../sqlite/sqlite-handle.js";

/** The part of `bun:sqlite`'s `Statement` lockstep uses. */
interface BunStatement {
  readonly reader: boolean;
  readonly readonly: boolean;
  run(...params: unknown[]): SqliteRunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  /** The rows as arrays of column values. */
  values(...params: unknown[]): unknown[][];
}

/** The part of `bun:sqlite`'s `Database` lockstep uses. */
interface BunDatabase {
  readonly inTransaction: boolean;
  prepare(sql: string): BunStatement;
  exec(sql: string): void;
  close(): void;
}

interface BunSqliteModule {
  readonly Database: new (
    path: string,
    options: { readonly create: boolean; readonly readwrite: boolean },
  ) => BunDatabase;
}

/** What `lockstep/bun-sqlite` needs of the runtime, as its errors name it. */
export const BUN_SQLITE_REQUIREMENT = "the Bun runtime (bun:sqlite)";

/** The running runtime, for messages: `"Node 22.1.0"`, `"Deno 2.9.6"`, …. */
function runtimeName(): string {
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno;
  if (deno !== undefined) return `Deno ${deno.version?.deno ?? ""}`.trim();
  const versions = (globalThis as { process?: { versions?: Record<string, string> } }).process
    ?.versions;
  if (versions?.node !== undefined) return `Node ${versions.node}`;
  return "this runtime";
}

let loaded: BunSqliteModule | undefined;

/**
 * `bun:sqlite`, loaded on first use rather than imported, so that this module loads anywhere (type
 * checkers, bundlers, Node's package checks) and only opening a database needs Bun.
 */
function bunSqlite(): BunSqliteModule {
  if (loaded !== undefined) return loaded;
  const bun = (globalThis as { Bun?: unknown }).Bun;
  const getBuiltinModule = (
    globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
  ).process?.getBuiltinModule;
  const module =
    bun !== undefined && typeof getBuiltinModule === "function"
      ? (getBuiltinModule("bun:sqlite") as BunSqliteModule | undefined)
      : undefined;
  if (module === undefined) {
    throw new LockstepRuntimeError(
      BUN_SQLITE_REQUIREMENT,
      `lockstep/bun-sqlite needs ${BUN_SQLITE_REQUIREMENT}, but it is running on ${runtimeName()}; on Node use openSqlite from lockstep/sqlite (better-sqlite3) instead.`,
    );
  }
  loaded = module;
  return module;
}

/** Asserts that `bun:sqlite` is available, throwing the error that names Bun otherwise. */
export function assertBunSqlite(): void {
  bunSqlite();
}

/** A `bun:sqlite` statement in the shape the engine uses: no row is `undefined`, as elsewhere. */
class Statement implements RawSqliteStatement {
  readonly source: string;
  readonly #statement: BunStatement;
  #raw = false;

  constructor(statement: BunStatement, source: string) {
    this.#statement = statement;
    this.source = source;
  }

  get reader(): boolean {
    return this.#statement.reader;
  }

  get readonly(): boolean {
    return this.#statement.readonly;
  }

  run(...params: unknown[]): SqliteRunResult {
    return this.#statement.run(...params);
  }

  get(...params: unknown[]): unknown {
    if (this.#raw) return this.#statement.values(...params)[0];
    return this.#statement.get(...params) ?? undefined;
  }

  all(...params: unknown[]): unknown[] {
    if (this.#raw) return this.#statement.values(...params);
    return this.#statement.all(...params);
  }

  raw(on: boolean): this {
    this.#raw = on;
    return this;
  }
}

/** A `bun:sqlite` connection in the shape the engine uses. */
class Connection implements RawSqliteDatabase {
  readonly #db: BunDatabase;
  #open = true;

  constructor(db: BunDatabase) {
    this.#db = db;
  }

  get open(): boolean {
    return this.#open;
  }

  get inTransaction(): boolean {
    return this.#open && this.#db.inTransaction;
  }

  prepare(sql: string): RawSqliteStatement {
    return new Statement(this.#db.prepare(sql), sql);
  }

  exec(sql: string): void {
    this.#db.exec(sql);
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#db.close();
  }
}

/** `bun:sqlite`, Bun's built-in SQLite binding. */
export const bunSqliteDriver: SqliteDriver = {
  name: "bun:sqlite",
  open: (path, fileMustExist) => {
    const { Database } = bunSqlite();
    return new Connection(new Database(path, { create: !fileMustExist, readwrite: true }));
  },
};
