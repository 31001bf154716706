import { cpus, freemem, loadavg, totalmem } from "node:os";
import Database from "better-sqlite3";
import type pg from "pg";

/** What the figures were measured on; benchmark numbers mean nothing without it. */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly sqlite: string;
  readonly postgres: string;
  readonly postgresSettings: string;
  /** The 1-minute load average when the run started and when it ended: others share the machine. */
  loadAtStart: number;
  loadAtEnd: number;
}

export async function describeMachine(pool: pg.Pool): Promise<Machine> {
  const db = new Database(":memory:");
  const sqlite = (db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v;
  db.close();
  const version = await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v");
  const settings = await pool.query<{ name: string; setting: string }>(
    `SELECT name, current_setting(name) AS setting FROM pg_settings
     WHERE name IN ('synchronous_commit', 'fsync', 'wal_sync_method', 'shared_buffers', 'max_connections')
     ORDER BY name`,
  );
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    sqlite: `${sqlite} (better-sqlite3; journal_mode=WAL, synchronous=FULL)`,
    postgres: version.rows[0]?.v ?? "unknown",
    postgresSettings: settings.rows.map((r) => `${r.name}=${r.setting}`).join(", "),
    loadAtStart: loadavg()[0] ?? 0,
    loadAtEnd: Number.NaN,
  };
}

export function machineLines(m: Machine): string[] {
  return [
    `- CPU: ${m.cpu}, ${m.cores} cores; memory ${m.memoryGiB} GiB (${Math.round(freemem() / 1024 ** 3)} GiB free at the end)`,
    `- Node ${m.node}`,
    `- SQLite ${m.sqlite}, on the local disk`,
    `- PostgreSQL ${m.postgres} on 127.0.0.1 (${m.postgresSettings})`,
    `- 1-minute load average: ${m.loadAtStart.toFixed(2)} at the start, ${m.loadAtEnd.toFixed(2)} at the end (the machine is shared with other engineers' test runs; with ${m.cores} cores, a load above ${m.cores} means this run competed for CPU)`,
  ];
}
