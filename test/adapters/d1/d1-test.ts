import { Miniflare } from "miniflare";
import { afterAll } from "vitest";
import type { D1DatabaseLike } from "../../../src/adapters/d1/index.js";
import type { BatchWrite, BatchWriteResult } from "../../../src/adapters/sql/batch-handle.js";

/**
 * One Miniflare (workerd with a local D1 database, "DB") per test file: started on first use,
 * disposed after the file's tests.
 */
let started: Promise<{ mf: Miniflare; db: D1DatabaseLike }> | undefined;

export function testD1(): Promise<D1DatabaseLike> {
  started ??= (async () => {
    const mf = new Miniflare({
      modules: true,
      script: "export default { fetch() { return new Response('ok'); } };",
      d1Databases: ["DB"],
    });
    const db = (await mf.getD1Database("DB")) as unknown as D1DatabaseLike;
    return { mf, db };
  })();
  return started.then((s) => s.db);
}

afterAll(async () => {
  if (started !== undefined) await (await started).mf.dispose();
});

let tables = 0;

/** A key/value table of its own, with versions that are never given twice. */
export async function kvTable(db: D1DatabaseLike): Promise<KvTable> {
  const name = `kv_${process.pid}_${++tables}`;
  await db.batch([
    db.prepare(`CREATE TABLE ${name} (k TEXT PRIMARY KEY, v TEXT NOT NULL, ver INTEGER NOT NULL)`),
  ]);
  return new KvTable(db, name);
}

let versions = 0;

/** Prepared writes and reads of a key/value table; a value is stored as JSON. */
export class KvTable {
  constructor(
    readonly db: D1DatabaseLike,
    readonly name: string,
  ) {}

  /** A fresh version: a counter and a random part, so no key ever gets one twice. */
  #version(): number {
    return ++versions * 1_000_000 + Math.floor(Math.random() * 1_000_000);
  }

  put(key: string, value: unknown, ifVersion?: number | "absent"): BatchWrite {
    const ver = this.#version();
    const v = JSON.stringify(value);
    if (ifVersion === undefined) {
      return {
        sql: `INSERT INTO ${this.name} (k, v, ver) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v, ver = excluded.ver RETURNING ver`,
        params: [key, v, ver],
      };
    }
    if (ifVersion === "absent") {
      return {
        sql: `INSERT INTO ${this.name} (k, v, ver) VALUES (?, ?, ?) ON CONFLICT (k) DO NOTHING RETURNING ver`,
        params: [key, v, ver],
        guarded: true,
      };
    }
    return {
      sql: `UPDATE ${this.name} SET v = ?, ver = ? WHERE k = ? AND ver = ? RETURNING ver`,
      params: [v, ver, key, ifVersion],
      guarded: true,
    };
  }

  remove(key: string, ifVersion: number): BatchWrite {
    return {
      sql: `DELETE FROM ${this.name} WHERE k = ? AND ver = ?`,
      params: [key, ifVersion],
      guarded: true,
    };
  }

  async read(key: string): Promise<{ value: unknown; version: number } | undefined> {
    const result = await this.db
      .prepare(`SELECT v, ver FROM ${this.name} WHERE k = ?`)
      .bind(key)
      .all<{
        v: string;
        ver: number;
      }>();
    const row = result.results?.[0];
    return row && { value: JSON.parse(row.v), version: row.ver };
  }

  versionOf(result: BatchWriteResult): number | null {
    const row = result.rows[0] as { ver?: number } | undefined;
    return row?.ver ?? null;
  }

  /** Makes every write of `key` fail: a trigger raises an error for it. */
  async refuse(key: string): Promise<void> {
    const trigger = `${this.name}_refuse_${key.replace(/\W/g, "_")}`;
    await this.db.batch([
      this.db.prepare(
        `CREATE TRIGGER ${trigger} BEFORE INSERT ON ${this.name} WHEN NEW.k = '${key}' BEGIN SELECT RAISE(ABORT, 'refused key'); END`,
      ),
    ]);
  }

  async drop(): Promise<void> {
    await this.db.batch([this.db.prepare(`DROP TABLE IF EXISTS ${this.name}`)]);
  }
}
