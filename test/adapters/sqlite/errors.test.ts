import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  classifySqliteError,
  type SqliteStore,
  sqliteStore,
} from "../../../src/adapters/sqlite/index.js";
import { classifyError } from "../../../src/core/error-kinds.js";
import type { ErrorKind } from "../../../src/model/error-kind.js";
import { openScope, storeFailure } from "../../conformance/transaction.js";
import { type TempDatabase, tempDatabase } from "./temp-database.js";

/** The first link of a `.cause` chain that carries a SQLite result code. */
function sqliteCode(error: unknown): string | undefined {
  let current: unknown = error;
  while (typeof current === "object" && current !== null) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("SQLITE_")) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

describe("classifySqliteError", () => {
  const cases: [code: string, kind: ErrorKind | undefined][] = [
    ["SQLITE_CONSTRAINT_UNIQUE", "not_committed"],
    ["SQLITE_CONSTRAINT_FOREIGNKEY", "not_committed"],
    ["SQLITE_CONSTRAINT", "not_committed"],
    ["SQLITE_BUSY", "transient"],
    ["SQLITE_BUSY_SNAPSHOT", "transient"],
    ["SQLITE_LOCKED", "transient"],
    ["SQLITE_IOERR_WRITE", "unknown"],
    ["SQLITE_FULL", "unknown"],
    ["SQLITE_ERROR", undefined],
    ["SQLITE_READONLY", undefined],
  ];

  it("maps every SQLite result code family to its kind", () => {
    expect(cases, "every case is checked").toHaveLength(10);
    for (const [code, kind] of cases) {
      expect(classifySqliteError(new Database.SqliteError(`failed with ${code}`, code)), code).toBe(
        kind,
      );
    }
  });

  it("leaves errors that are not SQLite's unrecognized", () => {
    expect(classifySqliteError(new Error("plain"))).toBeUndefined();
    expect(classifySqliteError({ code: "ECONNRESET" })).toBeUndefined();
    expect(classifySqliteError("SQLITE_BUSY")).toBeUndefined();
    expect(classifySqliteError(null)).toBeUndefined();
  });
});

describe("SQLite errors at the store boundary", () => {
  let temp: TempDatabase;
  let store: SqliteStore;

  const count = async () =>
    (await store.handle.get<{ n: number }>("SELECT count(*) AS n FROM users"))?.n;

  beforeEach(async () => {
    temp = tempDatabase();
    store = sqliteStore(temp.db);
    await store.handle.run("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE)");
    await store.handle.run("INSERT INTO users (email) VALUES ('a@example.com')");
  });

  afterEach(() => temp.remove());

  it("a UNIQUE violation is not_committed, also when wrapped in `.cause` chains", async () => {
    let thrown: unknown;
    try {
      await store.handle.run("INSERT INTO users (email) VALUES ('a@example.com')");
    } catch (error) {
      thrown = error;
    }
    expect(sqliteCode(thrown)).toBe("SQLITE_CONSTRAINT_UNIQUE");
    expect(classifyError(thrown, store.classifyError)).toBe("not_committed");
    const wrapped = new Error("creating the user failed", {
      cause: new Error("repository error", { cause: thrown }),
    });
    expect(classifyError(wrapped, store.classifyError)).toBe("not_committed");
    expect(classifyError(wrapped), "without the adapter's classifier it stays unknown").toBe(
      "unknown",
    );
  });

  it("a UNIQUE violation inside a transaction rolls everything back and says not_committed", async () => {
    const { scope } = openScope();
    const error = await storeFailure(
      store.transaction(async (tx) => {
        await tx.run("INSERT INTO users (email) VALUES ('b@example.com')");
        await tx.run("INSERT INTO users (email) VALUES ('a@example.com')");
      }, scope),
    );
    expect(error.kind).toBe("not_committed");
    expect(sqliteCode(error)).toBe("SQLITE_CONSTRAINT_UNIQUE");
    expect(await count()).toBe(1);
  });

  it("a lock held by another process is transient, before and inside a transaction", async () => {
    const impatient = sqliteStore(temp.reopen({ busyTimeoutMs: 0 }));
    const otherProcess = new Database(temp.file);
    otherProcess.pragma("busy_timeout = 0");
    otherProcess.exec("BEGIN IMMEDIATE");
    try {
      let thrown: unknown;
      try {
        await impatient.handle.run("INSERT INTO users (email) VALUES ('c@example.com')");
      } catch (error) {
        thrown = error;
      }
      expect(sqliteCode(thrown)).toMatch(/^SQLITE_BUSY/);
      expect(classifyError(thrown, impatient.classifyError)).toBe("transient");
      const { scope } = openScope();
      const error = await storeFailure(
        impatient.transaction(
          (tx) => tx.run("INSERT INTO users (email) VALUES ('d@example.com')"),
          scope,
        ),
      );
      expect(error.kind).toBe("transient");
    } finally {
      otherProcess.exec("ROLLBACK");
      otherProcess.close();
    }
    await impatient.handle.run("INSERT INTO users (email) VALUES ('e@example.com')");
    expect(await count(), "only the write after the lock was released landed").toBe(2);
  });

  it("a deferred foreign key violation fails COMMIT as not_committed and leaves the database usable", async () => {
    await store.handle.run("CREATE TABLE parents (id INTEGER PRIMARY KEY)");
    await store.handle.run(
      "CREATE TABLE children (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)",
    );
    const { scope } = openScope();
    const error = await storeFailure(
      store.transaction(async (tx) => {
        await tx.run("INSERT INTO users (email) VALUES ('f@example.com')");
        await tx.run("INSERT INTO children (parent) VALUES (99)");
      }, scope),
    );
    expect(error.kind).toBe("not_committed");
    expect(error.message).toMatch(/COMMIT failed/);
    expect(sqliteCode(error)).toBe("SQLITE_CONSTRAINT_FOREIGNKEY");
    expect(await count(), "nothing of the failed commit may remain").toBe(1);
    await store.transaction(
      (tx) => tx.run("INSERT INTO users (email) VALUES ('g@example.com')"),
      scope,
    );
    expect(await count()).toBe(2);
  });

  it("a statement SQLite cannot prepare never ran, so it is not_committed", async () => {
    const error = await storeFailure(store.handle.run("INSERT INTO nowhere VALUES (1)"));
    expect(error.kind).toBe("not_committed");
    expect(sqliteCode(error)).toBe("SQLITE_ERROR");
  });

  it("get and all refuse a statement that returns no rows", async () => {
    const error = await storeFailure(store.handle.get("UPDATE users SET email = email"));
    expect(error.kind).toBe("not_committed");
    expect(error.message).toMatch(/use `run`/);
  });
});
