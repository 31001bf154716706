import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type SqliteStore, sqliteStore } from "../../../src/adapters/sqlite/index.js";
import { openScope, storeFailure } from "../../conformance/transaction.js";
import { type TempDatabase, tempDatabase } from "./temp-database.js";

describe("savepoints in a SQLite transaction", () => {
  let temp: TempDatabase;
  let store: SqliteStore;

  const labels = async () =>
    (await store.handle.all<{ label: string }>("SELECT label FROM rows ORDER BY id")).map(
      (row) => row.label,
    );

  beforeEach(async () => {
    temp = tempDatabase();
    store = sqliteStore(temp.db);
    await store.handle.run("CREATE TABLE rows (id INTEGER PRIMARY KEY, label TEXT NOT NULL)");
  });

  afterEach(() => temp.remove());

  it("are declared, and only transaction handles offer them", () => {
    expect(store.capabilities.savepoints).toBe(true);
    expect(store.handle.savepoint).toBeUndefined();
  });

  it("a failing savepoint rolls back only its own writes, rethrows its error, and leaves the transaction open", async () => {
    const { scope } = openScope();
    const boom = new Error("nested scope failed");
    let caught: unknown;
    await store.transaction(async (tx) => {
      await tx.run("INSERT INTO rows (label) VALUES ('before')");
      try {
        await tx.savepoint(async (sp) => {
          await sp.run("INSERT INTO rows (label) VALUES ('nested')");
          throw boom;
        });
      } catch (error) {
        caught = error;
      }
      await tx.run("INSERT INTO rows (label) VALUES ('after')");
    }, scope);
    expect(caught, "the savepoint must rethrow the original error").toBe(boom);
    expect(await labels()).toEqual(["before", "after"]);
  });

  it("a savepoint that resolves keeps its writes and returns its value", async () => {
    const { scope } = openScope();
    const value = await store.transaction(
      async (tx) =>
        tx.savepoint(async (sp) => {
          await sp.run("INSERT INTO rows (label) VALUES ('kept')");
          return 42;
        }),
      scope,
    );
    expect(value).toBe(42);
    expect(await labels()).toEqual(["kept"]);
  });

  it("nested savepoints roll back independently", async () => {
    const { scope } = openScope();
    await store.transaction(async (tx) => {
      await tx.savepoint(async (outer) => {
        await outer.run("INSERT INTO rows (label) VALUES ('outer')");
        await outer
          .savepoint(async (inner) => {
            await inner.run("INSERT INTO rows (label) VALUES ('inner')");
            throw new Error("inner failed");
          })
          .catch(() => {});
        await outer.run("INSERT INTO rows (label) VALUES ('outer-again')");
      });
    }, scope);
    expect(await labels()).toEqual(["outer", "outer-again"]);
  });

  it("an uncaught savepoint failure rolls back the whole transaction", async () => {
    const { scope } = openScope();
    await storeFailure(
      store.transaction(async (tx) => {
        await tx.run("INSERT INTO rows (label) VALUES ('outer')");
        await tx.savepoint(async () => {
          throw new Error("nobody catches this");
        });
      }, scope),
    );
    expect(await labels()).toEqual([]);
  });

  it("the outer handle refuses statements while a savepoint is open, and a savepoint's handle refuses them after it ended", async () => {
    const { scope } = openScope();
    let leaked: Parameters<Parameters<SqliteStore["transaction"]>[0]>[0] | undefined;
    const outcome: string[] = [];
    await store.transaction(async (tx) => {
      await tx.savepoint(async (sp) => {
        leaked = sp;
        const refused = await storeFailure(tx.run("INSERT INTO rows (label) VALUES ('outer')"));
        outcome.push(refused.kind);
        expect(refused.message).toMatch(/savepoint is open/);
        await sp.run("INSERT INTO rows (label) VALUES ('nested')");
      });
      const afterwards = await storeFailure(
        leaked?.run("INSERT INTO rows (label) VALUES ('late')") ?? Promise.resolve(),
      );
      outcome.push(afterwards.kind);
      expect(afterwards.message).toMatch(/savepoint scope .* has ended/);
    }, scope);
    expect(outcome).toEqual(["not_committed", "not_committed"]);
    expect(await labels()).toEqual(["nested"]);
  });
});
