import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";

/** A temporary directory for one workload's database files, removed afterwards. */
export function tempDir(label: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `lockstep-bench-${label}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Opens a database file with better-sqlite3 directly, with the pragmas `openSqlite` sets, so a
 * baseline pays for the same durability (a WAL fsync per commit) as lockstep does.
 */
export function openRawSqlite(path: string): Database.Database {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  return db;
}

/**
 * The database pages `count` operations write, on average, to the WAL of the database at `path`:
 * a figure that does not depend on the machine's load. A reader holds a snapshot meanwhile, so the
 * WAL is never restarted and every frame the writer appends stays in the file to be counted.
 */
export async function walPagesPerOp(
  path: string,
  count: number,
  op: (i: number) => Promise<void>,
): Promise<number> {
  const reader = new Database(path);
  try {
    reader.pragma("wal_checkpoint(TRUNCATE)");
    reader.exec("BEGIN");
    reader.prepare("SELECT count(*) FROM sqlite_schema").get();
    const before = statSync(`${path}-wal`).size;
    for (let i = 0; i < count; i++) await op(i);
    const wal = readFileSync(`${path}-wal`);
    reader.exec("COMMIT");
    // A WAL frame is a 24-byte header and one page; the page size is in the WAL's header.
    const frame = 24 + wal.readUInt32BE(8);
    return (wal.length - Math.max(before, 32)) / frame / count;
  } finally {
    reader.close();
  }
}
