import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type PostgresStore,
  postgresSagaLog,
  postgresStore,
  postgresStoreId,
} from "../../../src/adapters/postgres/index.js";
import { runAtomic } from "../../../src/index.js";
import { openScope, storeFailure } from "../../conformance/transaction.js";
import { openSchema, type TestSchema } from "./pg-test.js";

describe("postgresStore identity and options", () => {
  const pools: pg.Pool[] = [];
  const pool = (config: pg.PoolConfig) => {
    const created = new pg.Pool(config);
    pools.push(created);
    return created;
  };

  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.end()));
  });

  it("derives postgres:<host>:<port>/<database> from the pool, a connection string winning", () => {
    const cases: [config: pg.PoolConfig, id: string][] = [
      [{ host: "db.internal", port: 6432, database: "orders" }, "postgres:db.internal:6432/orders"],
      [
        { connectionString: "postgres://app:secret@10.0.0.5:5433/billing" },
        "postgres:10.0.0.5:5433/billing",
      ],
      [
        { connectionString: "postgresql://app@db/ledger", host: "ignored", port: 1 },
        "postgres:db:1/ledger",
      ],
      [
        { connectionString: "postgresql:///main?host=/var/run/postgresql" },
        `postgres:/var/run/postgresql:${process.env.PGPORT ?? 5432}/main`,
      ],
      [
        { host: "h", user: "alice" },
        `postgres:h:${process.env.PGPORT ?? 5432}/${process.env.PGDATABASE ?? "alice"}`,
      ],
    ];
    expect(cases, "every way of configuring a pool is checked").toHaveLength(5);
    for (const [config, id] of cases) {
      expect(postgresStoreId(pool(config)), JSON.stringify(config)).toBe(id);
    }
  });

  it("gives a store and a log on one pool the same id, and honours explicit ids", () => {
    const shared = pool({ host: "db", database: "app" });
    expect(postgresSagaLog(shared).coCommit.storeId).toBe(postgresStore(shared).id);
    expect(postgresStore(shared, { id: "postgres:primary" }).id).toBe("postgres:primary");
    expect(postgresSagaLog(shared, { storeId: "postgres:primary" }).coCommit.storeId).toBe(
      "postgres:primary",
    );
  });

  it("refuses bad options with a sentence naming the value", () => {
    const shared = pool({ host: "db" });
    expect(() => postgresStore(shared, { isolation: "snapshot" as never })).toThrow(
      'Expected `isolation` to be one of "read committed", "repeatable read", "serializable", got `"snapshot"` (string).',
    );
    expect(() => postgresStore(shared, { attempts: 0 })).toThrow(
      "Expected `attempts` to be an integer >= 1, got `0` (number).",
    );
    expect(() => postgresStore(shared, { enforceDeadline: "yes" as never })).toThrow(
      'Expected `enforceDeadline` to be a boolean, got `"yes"` (string).',
    );
    expect(() => postgresStore(new pg.Client() as never)).toThrow(
      /Expected `pool` to be a pg.Pool \(a single Client cannot give each transaction a connection of its own\)/,
    );
    expect(() => postgresStore(pool({ connectionString: "not a url" }))).toThrow(
      /Could not read host, port and database from the pool's connection string .*; pass `id` explicitly\./,
    );
  });
});

describe("postgresStore root handle and prepared writes", () => {
  let db: TestSchema;
  let store: PostgresStore;

  beforeEach(async () => {
    db = await openSchema();
    store = postgresStore(db.pool);
    await store.handle.query(
      "CREATE TABLE bounties (id text PRIMARY KEY, status text NOT NULL, version integer NOT NULL)",
    );
    await store.handle.query("INSERT INTO bounties VALUES ('b-1', 'open', 1), ('b-2', 'open', 1)");
  });

  afterEach(() => db.close());

  it("refuses a root-handle query inside one of the store's own transactions, which would starve the pool", async () => {
    const { scope } = openScope();
    const inside = store.transaction(async (tx) => {
      await tx.query("UPDATE bounties SET status = 'claimed' WHERE id = 'b-1'");
      return store.handle.query("SELECT status FROM bounties WHERE id = 'b-2'");
    }, scope);
    await expect(inside).rejects.toThrow(
      /root handle of .* ran inside one of its own transactions/,
    );
    // The refused query rolled the transaction back, and the pool still answers root queries.
    const { rows } = await store.handle.query<{ status: string }>(
      "SELECT status FROM bounties ORDER BY id",
    );
    expect(rows.map((r) => r.status)).toEqual(["open", "open"]);
    // Another store's transaction may use this root handle: the check is per store.
    const other = postgresStore(db.pool, { id: "postgres:another" });
    await other.transaction(async () => {
      expect((await store.handle.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    }, openScope().scope);
  });

  it("refuses transaction control through every handle, so no pooled connection is left in a transaction", async () => {
    const statements = [
      "BEGIN",
      "  begin isolation level serializable",
      "START TRANSACTION",
      "COMMIT",
      "END",
      "ROLLBACK",
      "ABORT",
      "SAVEPOINT s",
      "RELEASE SAVEPOINT s",
      "PREPARE TRANSACTION 'x'",
    ];
    for (const sql of statements) {
      const error = await storeFailure(store.handle.query(sql));
      expect(error.kind, sql).toBe("not_committed");
      expect(error.message).toMatch(/Transaction control statements cannot run/);
    }
    const { scope } = openScope();
    await store.transaction(async (tx) => {
      expect((await storeFailure(tx.query("COMMIT"))).kind).toBe("not_committed");
      await tx.query("UPDATE bounties SET status = 'claimed' WHERE id = 'b-1'");
    }, scope);
    const { rows } = await db.admin.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle in transaction'",
      [db.schema],
    );
    expect(rows[0]?.n, "no pooled connection may be left inside a transaction").toBe(0);
  });

  it("reports rows and rowCount, for one statement and for a string of several", async () => {
    const one = await store.handle.query<{ id: string }>(
      "UPDATE bounties SET version = version + 1 RETURNING id",
    );
    expect(one.rowCount).toBe(2);
    expect(one.rows.map((r) => r.id).sort()).toEqual(["b-1", "b-2"]);
    const several = await store.handle.query<{ n: number }>(
      "UPDATE bounties SET version = version + 1 WHERE id = 'b-1'; SELECT 7 AS n",
    );
    expect(several).toEqual({ rows: [{ n: 7 }], rowCount: 2 });
    expect((await store.handle.query("SET LOCAL work_mem = '8MB'")).rowCount).toBe(0);
  });

  it("runAtomic runs guarded writes in one transaction, and a lost guard undoes every write", async () => {
    const claim = (id: string, version: number) => ({
      name: `claim ${id}`,
      guarded: true,
      build: () => ({
        text: "UPDATE bounties SET status = 'claimed', version = version + 1 WHERE id = $1 AND version = $2",
        values: [id, version],
      }),
    });
    const done = await runAtomic(store, [claim("b-1", 1), claim("b-2", 1)]);
    expect(done._unsafeUnwrap().strategy).toBe("transaction");
    expect(done._unsafeUnwrap().results.map((r) => r.rowCount)).toEqual([1, 1]);
    const lost = await runAtomic(store, [
      {
        name: "reopen b-1",
        build: () => ({ text: "UPDATE bounties SET status = 'open' WHERE id = 'b-1'" }),
      },
      claim("b-2", 1),
    ]);
    expect(lost._unsafeUnwrapErr().code).toBe("conflict");
    const { rows } = await store.handle.query<{ id: string; status: string }>(
      "SELECT id, status FROM bounties ORDER BY id",
    );
    expect(rows, "the first write must roll back with the lost guard").toEqual([
      { id: "b-1", status: "claimed" },
      { id: "b-2", status: "claimed" },
    ]);
  });
});
