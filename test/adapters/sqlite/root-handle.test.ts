import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  openSqlite,
  type SqliteDatabase,
  type SqliteStore,
  sqliteStore,
} from "../../../src/adapters/sqlite/index.js";
import { deferred, openScope, settle, storeFailure } from "../../conformance/transaction.js";
import { type TempDatabase, tempDatabase } from "./temp-database.js";

const ROWS = "CREATE TABLE rows (id INTEGER PRIMARY KEY, label TEXT NOT NULL)";

async function labels(store: SqliteStore): Promise<string[]> {
  const rows = await store.handle.all<{ label: string }>("SELECT label FROM rows ORDER BY id");
  return rows.map((row) => row.label);
}

/**
 * Opens a transaction that inserts `inside`, then waits; meanwhile "another request" (the test body,
 * outside the transaction's async context) writes `outside` through the root handle.
 */
async function interleave(store: SqliteStore, outcome: "commit" | "rollback") {
  const { scope } = openScope();
  const inserted = deferred();
  const finish = deferred();
  const seenInside: string[][] = [];
  const running = store.transaction(async (tx) => {
    await tx.run("INSERT INTO rows (label) VALUES (?)", [`inside-${outcome}`]);
    inserted.resolve();
    await finish.promise;
    const rows = await tx.all<{ label: string }>("SELECT label FROM rows ORDER BY id");
    seenInside.push(rows.map((row) => row.label));
    if (outcome === "rollback") throw new Error("request A failed");
  }, scope);
  await inserted.promise;
  let landed = false;
  const outside = store.handle
    .run("INSERT INTO rows (label) VALUES (?)", [`outside-${outcome}`])
    .then((result) => {
      landed = true;
      return result;
    });
  await settle();
  const landedWhileOpen = landed;
  finish.resolve();
  const error = outcome === "rollback" ? await storeFailure(running) : await running;
  const result = await outside;
  return { landedWhileOpen, seenInside, error, result };
}

describe("the root handle during another request's open transaction", () => {
  let temp: TempDatabase;
  let store: SqliteStore;

  beforeEach(async () => {
    temp = tempDatabase();
    store = sqliteStore(temp.db);
    await store.handle.run(ROWS);
  });

  afterEach(() => temp.remove());

  it("A statement through the root SQLite handle during another request's open transaction is neither committed nor rolled back with it", async () => {
    const rolledBack = await interleave(store, "rollback");
    expect(rolledBack.landedWhileOpen, "the root write must wait behind the transaction").toBe(
      false,
    );
    expect(rolledBack.seenInside, "the root write must not join the transaction").toEqual([
      ["inside-rollback"],
    ]);
    expect(rolledBack.error?.kind).toBe("not_committed");
    expect(await labels(store), "the root write must survive the rollback").toEqual([
      "outside-rollback",
    ]);

    const committed = await interleave(store, "commit");
    expect(committed.landedWhileOpen).toBe(false);
    expect(committed.seenInside).toEqual([["outside-rollback", "inside-commit"]]);
    expect(await labels(store), "the root write lands on its own, after the commit").toEqual([
      "outside-rollback",
      "inside-commit",
      "outside-commit",
    ]);
    expect(committed.result.changes).toBe(1);
  });

  it("root reads of a file database answer at once from committed data while a transaction is open", async () => {
    const { scope } = openScope();
    const inserted = deferred();
    const finish = deferred();
    const running = store.transaction(async (tx) => {
      await tx.run("INSERT INTO rows (label) VALUES ('uncommitted')");
      inserted.resolve();
      await finish.promise;
    }, scope);
    await inserted.promise;
    expect(
      await labels(store),
      "a read must not wait for the write gate nor see the write",
    ).toEqual([]);
    finish.resolve();
    await running;
    expect(await labels(store)).toEqual(["uncommitted"]);
  });

  it("a root-handle write from inside the same database's transaction is refused instead of waiting forever", async () => {
    const { scope } = openScope();
    const error = await storeFailure(
      store.transaction(async (tx) => {
        await tx.run("INSERT INTO rows (label) VALUES ('tx')");
        await store.handle.run("INSERT INTO rows (label) VALUES ('root')");
      }, scope),
    );
    expect(error.kind).toBe("not_committed");
    expect(String((error.cause as Error).message)).toMatch(
      /would wait for that transaction forever/,
    );
    expect(await labels(store)).toEqual([]);
  });

  it("a transaction handle that outlives its transaction cannot write into the next one", async () => {
    const { scope } = openScope();
    for (const outcome of ["rollback", "commit"] as const) {
      const resume = deferred();
      let zombie: Promise<unknown> = Promise.resolve();
      const first = store.transaction(async (tx) => {
        // A write the work started but never awaited, released only once another transaction runs.
        zombie = resume.promise.then(() => tx.run("INSERT INTO rows (label) VALUES ('zombie')"));
        if (outcome === "rollback") throw new Error("request A failed");
      }, scope);
      if (outcome === "rollback") await storeFailure(first);
      else await first;
      await store.transaction(async (tx) => {
        await tx.run("INSERT INTO rows (label) VALUES (?)", [`next-${outcome}`]);
        resume.resolve();
        const refused = await storeFailure(zombie);
        expect(refused.message).toMatch(/has already ended/);
      }, scope);
    }
    expect(await labels(store)).toEqual(["next-rollback", "next-commit"]);
  });

  it("a transaction started inside another on the same database is refused, pointing to savepoints", async () => {
    const { scope } = openScope();
    const error = await storeFailure(
      store.transaction(async () => {
        await store.transaction(
          async (inner) => inner.run("INSERT INTO rows (label) VALUES ('x')"),
          scope,
        );
      }, scope),
    );
    expect(String((error.cause as Error).message)).toMatch(/tx\.savepoint/);
    expect(await labels(store)).toEqual([]);
  });

  it("transaction control statements are refused through the root and transaction handles", async () => {
    for (const sql of ["BEGIN", "  commit", "ROLLBACK", "SAVEPOINT x", "release x", "END"]) {
      const error = await storeFailure(store.handle.run(sql));
      expect(error.kind, sql).toBe("not_committed");
    }
    const { scope } = openScope();
    const error = await storeFailure(store.transaction(async (tx) => tx.run("COMMIT"), scope));
    expect(error.kind).toBe("not_committed");
    await store.handle.run("INSERT INTO rows (label) VALUES ('after')");
    expect(await labels(store), "the database is still usable").toEqual(["after"]);
  });
});

describe("the root handle of an in-memory database", () => {
  let db: SqliteDatabase;
  let store: SqliteStore;

  beforeEach(async () => {
    db = openSqlite(":memory:");
    store = sqliteStore(db);
    await store.handle.run(ROWS);
  });

  afterEach(() => db.close());

  it("waits behind another request's open transaction for reads and writes, and is never joined to it", async () => {
    const rolledBack = await interleave(store, "rollback");
    expect(rolledBack.landedWhileOpen).toBe(false);
    expect(rolledBack.seenInside).toEqual([["inside-rollback"]]);
    expect(await labels(store)).toEqual(["outside-rollback"]);

    const { scope } = openScope();
    const inserted = deferred();
    const finish = deferred();
    const running = store.transaction(async (tx) => {
      await tx.run("INSERT INTO rows (label) VALUES ('dirty')");
      inserted.resolve();
      await finish.promise;
      throw new Error("roll back");
    }, scope);
    await inserted.promise;
    const read = labels(store);
    finish.resolve();
    await storeFailure(running);
    expect(await read, "the single connection must not serve a dirty read").toEqual([
      "outside-rollback",
    ]);
  });

  it("refuses a root read from inside its own transaction, which could only see uncommitted data", async () => {
    const { scope } = openScope();
    const error = await storeFailure(
      store.transaction(async () => store.handle.get("SELECT count(*) AS n FROM rows"), scope),
    );
    expect(String((error.cause as Error).message)).toMatch(/single-connection/);
  });
});
