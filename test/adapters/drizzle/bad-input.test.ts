import { createClient } from "@libsql/client";
import Database from "better-sqlite3";
import { drizzle as drizzleSqlite } from "drizzle-orm/better-sqlite3";
import { drizzle as drizzleD1 } from "drizzle-orm/d1";
import { drizzle as drizzleLibsql } from "drizzle-orm/libsql";
import { drizzle as drizzleMysql } from "drizzle-orm/mysql2";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePgProxy } from "drizzle-orm/pg-proxy";
import { drizzle as drizzleSqliteProxy } from "drizzle-orm/sqlite-proxy";
import { createConnection, createPool } from "mysql2/promise";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import {
  drizzleSagaLog,
  drizzleStore,
  guarded,
  UnsupportedDialectError,
} from "../../../src/adapters/drizzle/index.js";
import { LockstepDefinitionError } from "../../../src/model/definition-error.js";
import { PG_URL } from "../postgres/pg-test.js";
import { tempDatabase } from "../sqlite/temp-database.js";

/** The error `fn` throws; fails the test if it throws nothing. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("Expected the call to throw.");
}

describe("drizzleStore and drizzleSagaLog refuse what they cannot wrap, naming it", () => {
  const temp = tempDatabase();
  const mysqlPool = createPool({ host: "127.0.0.1", user: "root" });
  const libsql = createClient({ url: `file:${temp.dir}/libsql.db` });
  const client = new pg.Client({ connectionString: PG_URL });
  afterAll(async () => {
    libsql.close();
    await mysqlPool.end();
    temp.remove();
  });

  const proxy = async () => ({ rows: [] });
  const unsupported = [
    ["the SQLite HTTP proxy", () => drizzleSqliteProxy(proxy), "SqliteRemoteDatabase"],
    ["the Postgres HTTP proxy", () => drizzlePgProxy(proxy), "PgRemoteDatabase"],
  ] as const;
  for (const [name, open, dialect] of unsupported) {
    it(`a Drizzle database on ${name} is an UnsupportedDialectError naming ${dialect}`, () => {
      const db = open();
      for (const call of [() => drizzleStore(db as never), () => drizzleSagaLog(db as never)]) {
        const error = thrown(call);
        expect(UnsupportedDialectError.is(error)).toBe(true);
        expect(LockstepDefinitionError.is(error)).toBe(true);
        expect((error as UnsupportedDialectError).dialect).toBe(dialect);
        expect((error as Error).message).toContain(dialect);
        expect((error as Error).message).toMatch(/not supported by lockstep yet/);
        expect((error as Error).message).toMatch(/LibSQLDatabase \(drizzle-orm\/libsql\)/);
        expect((error as Error).message).toMatch(/D1Database \(drizzle-orm\/d1\)/);
      }
    });
  }

  it("a Drizzle database on libSQL or D1 without an id is refused, naming `id`", () => {
    const libsqlDb = drizzleLibsql(libsql);
    const d1Db = drizzleD1({ prepare: () => {}, batch: async () => [] } as never);
    for (const db of [libsqlDb, d1Db]) {
      const error = thrown(() => drizzleStore(db as never));
      expect(LockstepDefinitionError.is(error)).toBe(true);
      expect((error as Error).message).toMatch(/`id`/);
    }
  });

  it("a Drizzle libSQL or D1 database over something that is not its client is refused, naming it", () => {
    const libsqlDb = drizzleLibsql.mock();
    const d1Db = drizzleD1({ prepare: "no" } as never);
    for (const [db, client] of [
      [libsqlDb, /@libsql\/client client/],
      [d1Db, /Cloudflare D1 database binding/],
    ] as const) {
      for (const call of [
        () => drizzleStore(db as never, { id: "x" }),
        () => drizzleSagaLog(db as never),
      ]) {
        const error = thrown(call);
        expect(LockstepDefinitionError.is(error)).toBe(true);
        expect((error as Error).message).toMatch(client);
      }
      expect((thrown(() => drizzleStore(db as never, { id: "x" })) as Error).message).toMatch(
        /`db\.\$client`/,
      );
    }
  });

  it("guarded() refuses what is not a Drizzle query, naming it", () => {
    for (const [value, named] of [
      [{}, /`\[object Object\]` \(object\)/],
      [Promise.resolve(1), /Promise/],
    ] as const) {
      const error = thrown(() => guarded(value as never));
      expect(LockstepDefinitionError.is(error)).toBe(true);
      expect((error as Error).message).toMatch(/Expected `guarded` to be given a Drizzle query/);
      expect((error as Error).message).toMatch(named);
    }
  });

  const notDrizzle = [
    ["an empty object", {}, /`\[object Object\]` \(object\)/],
    ["a pg.Pool itself", new pg.Pool({ connectionString: PG_URL }), /instance of `BoundPool`/],
    ["a string", "postgres://localhost/db", /`"postgres:\/\/localhost\/db"` \(string\)/],
    ["undefined", undefined, /`undefined` \(undefined\)/],
  ] as const;
  for (const [name, value, named] of notDrizzle) {
    it(`${name} is not a Drizzle database, and the error names it`, () => {
      const error = thrown(() => drizzleStore(value as never));
      expect(LockstepDefinitionError.is(error)).toBe(true);
      expect(UnsupportedDialectError.is(error)).toBe(false);
      expect((error as Error).message).toMatch(/Expected `db` to be a Drizzle database/);
      expect((error as Error).message).toMatch(named);
    });
  }

  it("a Drizzle node-postgres database over a single pg.Client is refused, naming the client", () => {
    const error = thrown(() => drizzleStore(drizzlePg(client)));
    expect(LockstepDefinitionError.is(error)).toBe(true);
    expect((error as Error).message).toMatch(/Expected `db\.\$client` to be a pg\.Pool/);
    expect((error as Error).message).toMatch(/an instance of `Client`/);
  });

  it("a Drizzle mysql2 database over a single connection is refused, naming the value", async () => {
    const connection = await createConnection({ host: "127.0.0.1", user: "root" });
    try {
      const db = drizzleMysql(connection);
      for (const call of [() => drizzleStore(db), () => drizzleSagaLog(db)]) {
        const error = thrown(call);
        expect(LockstepDefinitionError.is(error)).toBe(true);
        expect(UnsupportedDialectError.is(error)).toBe(false);
        expect((error as Error).message).toMatch(
          /Expected `db\.\$client` to be a mysql2 promise pool/,
        );
        expect((error as Error).message).toMatch(/an instance of `PromiseConnection`/);
      }
    } finally {
      await connection.end();
    }
  });

  it("a Drizzle mysql2 database with a bad isolation is refused, naming it", () => {
    const error = thrown(() =>
      drizzleStore(drizzleMysql(mysqlPool), { isolation: "snapshot" as never }),
    );
    expect(LockstepDefinitionError.is(error)).toBe(true);
    expect((error as Error).message).toMatch(/`isolation`.*"snapshot"/);
  });

  it("a Drizzle better-sqlite3 database in memory is refused: lockstep needs the file", () => {
    const memory = new Database(":memory:");
    try {
      const error = thrown(() => drizzleStore(drizzleSqlite(memory)));
      expect(LockstepDefinitionError.is(error)).toBe(true);
      expect((error as Error).message).toMatch(/in-memory database `":memory:"` \(string\)/);
    } finally {
      memory.close();
    }
  });

  it("a bad option is refused, naming it", () => {
    const file = new Database(`${temp.dir}/opts.db`);
    try {
      const db = drizzleSqlite(file);
      expect(() => drizzleStore(db, { id: "" })).toThrow(/`id`/);
      expect(() => drizzleStore(db, null as never)).toThrow(/Expected `options` to be an object/);
    } finally {
      file.close();
    }
  });
});
