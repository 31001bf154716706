import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@libsql/client";
import { openLibsql } from "../../../src/adapters/libsql/index.js";
import type { BatchWrite, BatchWriteResult } from "../../../src/adapters/sql/batch-handle.js";

/** A fresh local libSQL file database in a temporary directory, removed by `close`. */
export async function tempLibsql(): Promise<{
  client: Client;
  url: string;
  close(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), "lockstep-libsql-"));
  const url = `file:${join(dir, "app.db")}`;
  const client = await openLibsql(url);
  return {
    client,
    url,
    close: async () => {
      client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let versions = 0;

/** Prepared writes and reads of a key/value table `kv`; versions are never given twice. */
export function libsqlKv(client: Client) {
  const version = () => ++versions * 1_000_000 + Math.floor(Math.random() * 1_000_000);
  return {
    create: () =>
      client.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL, ver INTEGER NOT NULL)"),
    put(key: string, value: unknown, ifVersion?: number | "absent"): BatchWrite {
      const v = JSON.stringify(value);
      if (ifVersion === undefined) {
        return {
          sql: "INSERT INTO kv (k, v, ver) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v, ver = excluded.ver RETURNING ver",
          params: [key, v, version()],
        };
      }
      if (ifVersion === "absent") {
        return {
          sql: "INSERT INTO kv (k, v, ver) VALUES (?, ?, ?) ON CONFLICT (k) DO NOTHING RETURNING ver",
          params: [key, v, version()],
          guarded: true,
        };
      }
      return {
        sql: "UPDATE kv SET v = ?, ver = ? WHERE k = ? AND ver = ? RETURNING ver",
        params: [v, version(), key, ifVersion],
        guarded: true,
      };
    },
    remove: (key: string, ifVersion: number): BatchWrite => ({
      sql: "DELETE FROM kv WHERE k = ? AND ver = ?",
      params: [key, ifVersion],
      guarded: true,
    }),
    async read(key: string) {
      const result = await client.execute({
        sql: "SELECT v, ver FROM kv WHERE k = ?",
        args: [key],
      });
      const row = result.rows[0];
      return row && { value: JSON.parse(String(row.v)), version: Number(row.ver) };
    },
    versionOf: (result: BatchWriteResult) =>
      (result.rows[0] as { ver?: number } | undefined)?.ver ?? null,
    async refuse(key: string) {
      await client.execute(
        `CREATE TRIGGER refuse_${key.replace(/\W/g, "_")} BEFORE INSERT ON kv WHEN NEW.k = '${key}' BEGIN SELECT RAISE(ABORT, 'refused key'); END`,
      );
    },
  };
}
