import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  openSqlite,
  type SqliteDatabase,
  type SqliteStore,
  sqliteSagaLog,
  sqliteStore,
} from "../../../src/adapters/sqlite/index.js";
import { LockstepDefinitionError } from "../../../src/model/definition-error.js";
import { logFailure, sagaRecord } from "../../conformance/saga-log.js";
import { deferred, openScope, storeFailure } from "../../conformance/transaction.js";
import { type TempDatabase, tempDatabase } from "./temp-database.js";

describe("openSqlite", () => {
  let temp: TempDatabase;

  beforeEach(() => {
    temp = tempDatabase();
  });

  afterEach(() => temp.remove());

  it("names a file database by its absolute real path, however it was reached", () => {
    const real = join(temp.dir, "real");
    mkdirSync(real);
    symlinkSync(real, join(temp.dir, "link"));
    const throughLink = openSqlite(relative(process.cwd(), join(temp.dir, "link", "app.db")));
    try {
      expect(throughLink.id).toBe(`sqlite:${join(temp.dir, "real", "app.db")}`);
      expect(throughLink.path).toBe(join(temp.dir, "real", "app.db"));
      expect(throughLink.inMemory).toBe(false);
      expect(temp.db.id).toBe(`sqlite:${temp.file}`);
    } finally {
      throughLink.close();
    }
  });

  it("gives every in-memory database its own id and its own data", async () => {
    const a = openSqlite(":memory:");
    const b = openSqlite(":memory:");
    try {
      expect(a.id).toMatch(/^sqlite::memory:\d+$/);
      expect(b.id).toMatch(/^sqlite::memory:\d+$/);
      expect(a.id).not.toBe(b.id);
      expect(a.inMemory).toBe(true);
      await sqliteStore(a).handle.run("CREATE TABLE only_in_a (x)");
      const tables = await sqliteStore(b).handle.all("SELECT name FROM sqlite_master");
      expect(tables).toEqual([]);
    } finally {
      a.close();
      b.close();
    }
  });

  it("sets WAL, synchronous FULL, foreign keys and the busy timeout on every connection", async () => {
    const store = sqliteStore(temp.reopen({ busyTimeoutMs: 1234 }));
    const pragmas = async (handle: SqliteStore["handle"]) => ({
      journal: (await handle.get<{ journal_mode: string }>("PRAGMA journal_mode"))?.journal_mode,
      synchronous: (await handle.get<{ synchronous: number }>("PRAGMA synchronous"))?.synchronous,
      foreignKeys: (await handle.get<{ foreign_keys: number }>("PRAGMA foreign_keys"))
        ?.foreign_keys,
      busy: (await handle.get<{ timeout: number }>("PRAGMA busy_timeout"))?.timeout,
    });
    const expected = { journal: "wal", synchronous: 2, foreignKeys: 1, busy: 1234 };
    expect(await pragmas(store.handle), "the reader connection").toEqual(expected);
    const { scope } = openScope();
    expect(await store.transaction((tx) => pragmas(tx), scope), "the writer connection").toEqual(
      expected,
    );
    const defaults = sqliteStore(temp.db);
    expect((await pragmas(defaults.handle)).busy, "the default busy timeout").toBe(5000);
  });

  it("refuses bad arguments with a sentence naming the value", () => {
    const cases: [() => unknown, RegExp][] = [
      [() => openSqlite(""), /`path`.*`""` \(string\)/],
      [() => openSqlite(temp.file, { busyTimeoutMs: -1 }), /`busyTimeoutMs`.*`-1` \(number\)/],
      [() => openSqlite(temp.file, { busyTimeoutMs: 1.5 }), /`busyTimeoutMs`.*`1\.5` \(number\)/],
      [
        () => openSqlite(temp.file, { fileMustExist: "yes" as unknown as boolean }),
        /`fileMustExist`.*"yes"/,
      ],
      [() => sqliteStore({} as SqliteDatabase), /`db`.*openSqlite\(\)/],
      [() => sqliteSagaLog(temp.db, { tablePrefix: "bad-prefix" }), /`tablePrefix`.*"bad-prefix"/],
    ];
    expect(cases, "every misuse is checked").toHaveLength(6);
    for (const [misuse, message] of cases) {
      expect(misuse).toThrow(LockstepDefinitionError);
      expect(misuse).toThrow(message);
    }
  });

  it("with fileMustExist, refuses a missing file without creating it", () => {
    expect(() => openSqlite(join(temp.dir, "missing.db"), { fileMustExist: true })).toThrow();
    expect(temp.files()).not.toContain("missing.db");
  });

  it("after close, every use fails saying the database was closed", async () => {
    const db = temp.reopen();
    const store = sqliteStore(db);
    const log = sqliteSagaLog(db);
    await store.handle.run("CREATE TABLE t (x)");
    db.close();
    db.close();
    expect(db.closed).toBe(true);
    const { scope } = openScope();
    const failures = [
      await storeFailure(store.handle.run("INSERT INTO t VALUES (1)")),
      await storeFailure(store.handle.get("SELECT 1")),
      await storeFailure(store.transaction(async () => 1, scope)),
    ];
    for (const failure of failures) {
      expect(failure.kind).toBe("not_committed");
      expect(failure.message).toMatch(/is closed; it cannot be used after close\(\)/);
    }
    const logError = await logFailure(log.load("saga-1"));
    expect(logError.reason).toBe("io");
    expect(logError.message).toMatch(/is closed/);
    expect(sqliteStore(temp.db).id, "other openers of the file are unaffected").toBe(db.id);
  });

  it("closing during an open transaction rolls it back and fails it as not committed", async () => {
    const db = temp.reopen();
    const store = sqliteStore(db);
    await store.handle.run("CREATE TABLE t (x)");
    const { scope } = openScope();
    const inside = deferred();
    const resume = deferred();
    const running = store.transaction(async (tx) => {
      await tx.run("INSERT INTO t VALUES (1)");
      inside.resolve();
      await resume.promise;
    }, scope);
    await inside.promise;
    db.close();
    resume.resolve();
    expect((await storeFailure(running)).kind).toBe("not_committed");
    const count = await sqliteStore(temp.db).handle.get<{ n: number }>(
      "SELECT count(*) AS n FROM t",
    );
    expect(count?.n).toBe(0);
  });

  it("creates no file besides the database and SQLite's own -wal and -shm", async () => {
    const store = sqliteStore(temp.db);
    const log = sqliteSagaLog(temp.db);
    await store.handle.run("CREATE TABLE t (x)");
    const { scope } = openScope();
    await store.transaction((tx) => tx.run("INSERT INTO t VALUES (1)"), scope);
    await log.create(sagaRecord("saga-1"));
    expect(
      temp.files().every((name) => /^test\.db(-wal|-shm)?$/.test(name)),
      temp.files().join(),
    ).toBe(true);
    expect(temp.files()).toContain("test.db");
  });
});

describe("openSqlite with a directory that does not exist", () => {
  it("fails without creating anything", () => {
    const dir = mkdtempSync(join(tmpdir(), "lockstep-"));
    try {
      expect(() => openSqlite(join(dir, "absent", "app.db"))).toThrow(/directory does not exist/);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
