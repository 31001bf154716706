import Database from "better-sqlite3";
import type { RawSqliteDatabase, SqliteDriver } from "./sqlite-driver.js";

/** better-sqlite3, a V8 addon for Node: its connections already have the shape lockstep uses. */
export const betterSqlite3Driver: SqliteDriver = {
  name: "better-sqlite3",
  open: (path, fileMustExist): RawSqliteDatabase =>
    new Database(path, { fileMustExist }) as unknown as RawSqliteDatabase,
};
