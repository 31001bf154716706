import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { postgresStore } from "../../src/adapters/postgres/index.js";
import { openSqlite, sqliteStore } from "../../src/adapters/sqlite/index.js";
import { LockstepDefinitionError } from "../../src/index.js";
import { createInbox } from "../../src/outbox/index.js";
import { openSchema } from "../adapters/postgres/pg-test.js";

const scope = () => ({ signal: AbortSignal.timeout(10_000), deadline: Date.now() + 10_000 });

/** A consumer's store and inbox, with its `handled` table; `handle` runs one message through both. */
async function consumers() {
  const dir = mkdtempSync(join(tmpdir(), "lockstep-inbox-"));
  const db = openSqlite(join(dir, "consumer.db"));
  const sqlite = sqliteStore(db);
  const sqliteInbox = createInbox({ dialect: "sqlite" });
  await sqlite.handle.run(sqliteInbox.createTable);
  await sqlite.handle.run("CREATE TABLE handled (id TEXT NOT NULL)");
  const pg = await openSchema();
  const postgres = postgresStore(pg.pool);
  const pgInbox = createInbox({ dialect: "postgres", table: `${pg.schema}.inbox` });
  await pg.pool.query(pgInbox.createTable);
  await pg.pool.query("CREATE TABLE handled (id text NOT NULL)");
  onTestFinished(async () => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
    await pg.close();
  });
  return [
    {
      name: "SQLite",
      handle: (id: string, fail = false) =>
        sqlite.transaction(async (tx) => {
          if (!(await sqliteInbox.receive(tx, id))) return false;
          await tx.run("INSERT INTO handled (id) VALUES (?)", [id]);
          if (fail) throw new Error("the consumer failed");
          return true;
        }, scope()),
      handled: async () =>
        (await sqlite.handle.all<{ id: string }>("SELECT id FROM handled")).map((r) => r.id),
    },
    {
      name: "Postgres",
      handle: (id: string, fail = false) =>
        postgres.transaction(async (tx) => {
          if (!(await pgInbox.receive(tx, id))) return false;
          await tx.query("INSERT INTO handled (id) VALUES ($1)", [id]);
          if (fail) throw new Error("the consumer failed");
          return true;
        }, scope()),
      handled: async () =>
        (await pg.pool.query<{ id: string }>("SELECT id FROM handled")).rows.map((r) => r.id),
    },
  ];
}

describe("the inbox", () => {
  it("handles a message once however often it arrives, and forgets it when the consumer's transaction rolls back", async () => {
    const all = await consumers();
    for (const consumer of all) {
      await expect(consumer.handle("m-1", true), consumer.name).rejects.toThrow(
        "the consumer failed",
      );
      expect(
        await consumer.handled(),
        `${consumer.name}: a rolled-back message is not seen`,
      ).toEqual([]);
      expect(await consumer.handle("m-1"), consumer.name).toBe(true);
      expect(await consumer.handle("m-1"), `${consumer.name}: a duplicate is dropped`).toBe(false);
      expect(await consumer.handle("m-2"), consumer.name).toBe(true);
      expect((await consumer.handled()).sort()).toEqual(["m-1", "m-2"]);
    }
    expect(all).toHaveLength(2);
  });

  it("refuses a bad dialect or table name, naming the value", () => {
    expect(() => createInbox({ dialect: "mysql" as never })).toThrow(LockstepDefinitionError);
    expect(() => createInbox({ dialect: "mysql" as never })).toThrow(
      /`dialect`.*got `"mysql"` \(string\)/,
    );
    expect(() => createInbox({ dialect: "sqlite", table: 'x"; DROP' })).toThrow(
      /`table`.*got `"x\\"; DROP"`/,
    );
    expect(() => createInbox({ dialect: "sqlite", table: "a.b" })).toThrow(/`table`/);
  });
});
