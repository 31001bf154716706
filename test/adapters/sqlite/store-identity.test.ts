import { afterEach, describe, expect, it } from "vitest";
import { sqliteSagaLog, sqliteStore } from "../../../src/adapters/sqlite/index.js";
import { LockstepDefinitionError } from "../../../src/index.js";
import { type TempDatabase, tempDatabase } from "./temp-database.js";

describe("a SQLite store's logical id and the log's co-commit declaration", () => {
  let temp: TempDatabase | undefined;
  afterEach(() => temp?.remove());

  it("defaults both to the database's id, as before", () => {
    temp = tempDatabase();
    const store = sqliteStore(temp.db);
    expect(store.id).toBe(temp.db.id);
    expect(sqliteSagaLog(temp.db).coCommit.storeId).toBe(store.id);
  });

  it("takes the id the user names, and a log declares it by store or by id", () => {
    temp = tempDatabase();
    const store = sqliteStore(temp.db, { id: "orders-db" });
    expect(store.id).toBe("orders-db");
    expect(sqliteSagaLog(temp.db, { store }).coCommit.storeId).toBe("orders-db");
    expect(sqliteSagaLog(temp.db, { coCommitWith: "orders-db" }).coCommit.storeId).toBe(
      "orders-db",
    );
  });

  it("refuses declarations that disagree, naming both", () => {
    temp = tempDatabase();
    const store = sqliteStore(temp.db, { id: "orders-db" });
    let thrown: unknown;
    try {
      sqliteSagaLog(temp.db, { store, coCommitWith: "billing-db" });
    } catch (error) {
      thrown = error;
    }
    expect(LockstepDefinitionError.is(thrown)).toBe(true);
    expect((thrown as Error).message).toBe(
      'The saga log was told to co-commit with two stores, `store.id` "orders-db" and `coCommitWith` "billing-db"; declare one.',
    );
    expect(() => sqliteStore(temp?.db as never, { id: " x" })).toThrow(/`id`/);
  });
});
