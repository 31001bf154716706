import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  openSqlite,
  type SqliteDatabase,
  type SqliteOptions,
} from "../../../src/adapters/sqlite/index.js";

/** A database file in a fresh temporary directory, and the means to remove both. */
export interface TempDatabase {
  readonly dir: string;
  readonly file: string;
  readonly db: SqliteDatabase;
  /** Opens the same file again, as another part of the process (or a restart) would. */
  reopen(options?: SqliteOptions): SqliteDatabase;
  /** The names of the files in the directory. */
  files(): string[];
  /** Closes every database opened here and deletes the directory. */
  remove(): void;
}

/** Opens a database in `fs.mkdtempSync(os.tmpdir()/lockstep-…)`. */
export function tempDatabase(options?: SqliteOptions): TempDatabase {
  const dir = mkdtempSync(join(tmpdir(), "lockstep-"));
  const file = join(dir, "test.db");
  const opened: SqliteDatabase[] = [];
  const open = (more?: SqliteOptions) => {
    const db = openSqlite(file, more ?? options);
    opened.push(db);
    return db;
  };
  const db = open();
  return {
    dir,
    file,
    db,
    reopen: open,
    files: () => readdirSync(dir).sort(),
    remove: () => {
      for (const each of opened) each.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
