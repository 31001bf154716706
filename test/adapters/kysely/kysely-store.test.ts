import Database from "better-sqlite3";
import { Kysely, MssqlDialect, MysqlDialect, PostgresDialect, SqliteDialect } from "kysely";
import { createPool } from "mysql2";
import { createConnection } from "mysql2/promise";
import type { Result } from "neverthrow";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  kyselySagaLog,
  kyselyStore,
  UnsupportedDialectError,
} from "../../../src/adapters/kysely/index.js";
import { StoreError } from "../../../src/core/error-kinds.js";
import type { SagaReport } from "../../../src/core/report.js";
import { createRunner } from "../../../src/core/runner.js";
import { defineSaga } from "../../../src/core/saga.js";
import { notCommitted } from "../../../src/core/step.js";
import { LockstepDefinitionError } from "../../../src/model/definition-error.js";
import { deferred, openScope, settle, storeFailure } from "../../conformance/transaction.js";
import { PG_URL } from "../postgres/pg-test.js";
import { tempDatabase } from "../sqlite/temp-database.js";
import {
  type KvDatabase,
  kyselyMysqlDatabase,
  kyselyPgDatabase,
  kyselySqliteDatabase,
} from "./kysely-test.js";

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("Expected the call to throw.");
}

function reportOf(result: Result<SagaReport, unknown>): SagaReport {
  if (result.isOk()) return result.value;
  const report = (result.error as { report?: SagaReport }).report;
  if (report === undefined)
    throw new Error(`The run failed without a report: ${String(result.error)}`);
  return report;
}

describe("kyselyStore refuses what it cannot wrap, naming it", () => {
  const temp = tempDatabase();
  const mysql = createPool({ host: "127.0.0.1", user: "root" });
  afterAll(async () => {
    await new Promise((resolve) => mysql.end(resolve));
    temp.remove();
  });

  it("a Kysely database of the MS SQL Server dialect is an UnsupportedDialectError naming MssqlAdapter", () => {
    // The dialect never connects here: lockstep refuses it from its adapter alone.
    const db = new Kysely<KvDatabase>({
      dialect: new MssqlDialect({
        tarn: { Pool: class {} as never, options: { min: 0, max: 1 } },
        tedious: { connectionFactory: () => ({}) as never } as never,
      }),
    });
    for (const call of [
      () => kyselyStore(db, { client: mysql }),
      () => kyselySagaLog(db, { client: mysql }),
    ]) {
      const error = thrown(call);
      expect(UnsupportedDialectError.is(error)).toBe(true);
      expect((error as UnsupportedDialectError).dialect).toBe("MssqlAdapter");
      expect((error as Error).message).toMatch(
        /Kysely databases on MssqlAdapter are not supported/,
      );
    }
  });

  it("a Kysely MySQL database whose client is not a mysql2 pool is refused, naming it", async () => {
    const db = new Kysely<KvDatabase>({ dialect: new MysqlDialect({ pool: mysql }) });
    const connection = await createConnection({ host: "127.0.0.1", user: "root" });
    try {
      for (const client of [connection, {}, "mysql://root@127.0.0.1"]) {
        for (const call of [
          () => kyselyStore(db, { client }),
          () => kyselySagaLog(db, { client }),
        ]) {
          const error = thrown(call);
          expect(LockstepDefinitionError.is(error)).toBe(true);
          expect((error as Error).message).toMatch(/Expected `client` to be a mysql2 promise pool/);
        }
      }
      expect(thrown(() => kyselyStore(db, { client: connection }))).toHaveProperty(
        "message",
        expect.stringMatching(/an instance of `PromiseConnection`/),
      );
    } finally {
      await connection.end();
    }
  });

  it("something that is not a Kysely database is refused, naming it", () => {
    const pool = new pg.Pool({ connectionString: PG_URL });
    for (const value of [pool, {}, "kysely"]) {
      const error = thrown(() => kyselyStore(value as never, { client: pool }));
      expect(LockstepDefinitionError.is(error)).toBe(true);
      expect(UnsupportedDialectError.is(error)).toBe(false);
      expect((error as Error).message).toMatch(/Expected `db` to be a Kysely database/);
    }
    expect(thrown(() => kyselyStore(pool as never, { client: pool }))).toHaveProperty(
      "message",
      expect.stringMatching(/an instance of `BoundPool`/),
    );
  });

  it("a missing or mismatched client is refused, naming it", () => {
    const pool = new pg.Pool({ connectionString: PG_URL });
    const pgDb = new Kysely<KvDatabase>({ dialect: new PostgresDialect({ pool }) });
    expect(() => kyselyStore(pgDb, {} as never)).toThrow(/Expected `options.client` to be/);
    const file = new Database(`${temp.dir}/k.db`);
    expect(() => kyselyStore(pgDb, { client: file })).toThrow(
      /Expected `client` to be a pg.Pool.*an instance of `Database`/,
    );
    const sqliteDb = new Kysely<KvDatabase>({ dialect: new SqliteDialect({ database: file }) });
    expect(() => kyselyStore(sqliteDb, { client: pool })).toThrow(
      /Expected `client` to be a better-sqlite3 Database.*an instance of `BoundPool`/,
    );
    const memory = new Database(":memory:");
    expect(() => kyselyStore(sqliteDb, { client: memory })).toThrow(/in-memory database/);
    memory.close();
    file.close();
  });
});

describe("kyselyStore on SQLite: the user's own db next to an open lockstep transaction", () => {
  it("a write through db is refused at once, never joined; the store's handle waits", async () => {
    const opened = await kyselySqliteDatabase();
    const store = kyselyStore(opened.db, { id: "kv-db", client: opened.client });
    try {
      const written = deferred();
      const proceed = deferred();
      const running = store.transaction(async (trx) => {
        await trx.insertInto("kv").values({ key: "inside", value: "1" }).execute();
        written.resolve();
        await proceed.promise;
        await trx.insertInto("kv").values({ key: "inside-2", value: "2" }).execute();
        throw new Error("roll back");
      }, openScope().scope);
      await written.promise;
      const refused = await storeFailure(
        opened.db.insertInto("kv").values({ key: "outside", value: "x" }).execute(),
      );
      expect(refused.kind).toBe("transient");
      let landed = false;
      const waiting = store.handle
        .insertInto("kv")
        .values({ key: "through-store", value: "y" })
        .execute()
        .then(() => {
          landed = true;
        });
      await settle();
      expect(landed, "the store's handle must wait for the transaction").toBe(false);
      // Reads through db never wait and see only committed data.
      expect(await opened.db.selectFrom("kv").select("key").execute()).toEqual([]);
      proceed.resolve();
      await storeFailure(running);
      await waiting;
      const keys = (await opened.db.selectFrom("kv").select("key").orderBy("key").execute()).map(
        (r) => r.key,
      );
      expect(keys).toEqual(["through-store"]);
      expect(
        (await opened.db.insertInto("kv").values({ key: "after", value: "z" }).executeTakeFirst())
          .numInsertedOrUpdatedRows,
        "with no transaction open, db writes as usual",
      ).toBe(1n);
      const inside = await storeFailure(
        store.transaction(async () => {
          await opened.db.insertInto("kv").values({ key: "self", value: "s" }).execute();
        }, openScope().scope),
      );
      expect(inside.message).toMatch(/would wait for that transaction forever/);
    } finally {
      store.close();
      await opened.close();
    }
  });
});

for (const [dialect, open] of [
  ["Postgres", kyselyPgDatabase],
  ["SQLite", kyselySqliteDatabase],
  ["MySQL", kyselyMysqlDatabase],
] as const) {
  describe(`kyselyStore on ${dialect} in a saga`, () => {
    for (const fail of [false, true]) {
      it(`a step's Kysely writes ${fail ? "roll back" : "commit"} with its log record`, async () => {
        const opened = await open();
        const store = kyselyStore(opened.db, { id: "kv-db", client: opened.client });
        const log = kyselySagaLog(opened.db, {
          client: opened.client,
          store,
          ...("schema" in opened ? { schema: opened.schema.schema } : {}),
        });
        try {
          const saga = defineSaga("kysely-step", { input: z.object({ id: z.string() }) })
            .step("insert", {
              store,
              kind: "pivot",
              output: z.object({ id: z.string() }),
              execute: async ({ input, handle }) => {
                await handle.insertInto("kv").values({ key: input.id, value: "v" }).execute();
                await new Promise((resolve) => setTimeout(resolve, 2));
                if (fail) throw new StoreError("not_committed", "a rule failed");
                return { id: input.id };
              },
              probe: async () => notCommitted(),
              retry: { attempts: 1 },
            })
            .build();
          const report = reportOf(await createRunner({ log }).run(saga, { id: "k1" }));
          expect(report.steps[0]?.strategy).toBe("co_committed");
          expect(report.status === "completed").toBe(!fail);
          const keys = (await store.handle.selectFrom("kv").select("key").execute()).map(
            (r) => r.key,
          );
          expect(keys).toEqual(fail ? [] : ["k1"]);
          const entries = (await log.load(report.sagaId))?.entries ?? [];
          expect(entries.filter((e) => e.type === "committed").length).toBe(fail ? 0 : 1);
        } finally {
          store.close();
          await opened.close();
        }
      });
    }
  });
}

describe("kyselyStore on MySQL counts what a write matched", () => {
  it("a guarded update that sets a row to the values it holds counts 1; one that lost counts 0", async () => {
    const opened = await kyselyMysqlDatabase();
    const store = kyselyStore(opened.db, { id: "kv-db", client: opened.client });
    try {
      await store.handle.insertInto("kv").values({ key: "k", value: "same" }).execute();
      const scope = openScope().scope;
      const write = (key: string) => (db: typeof store.handle) =>
        db.updateTable("kv").set({ value: "same" }).where("key", "=", key).executeTakeFirst();
      expect(store.affected(await store.apply(store.handle, write("k"), scope))).toBe(1);
      expect(store.affected(await store.apply(store.handle, write("absent"), scope))).toBe(0);
    } finally {
      await opened.close();
    }
  });
});
