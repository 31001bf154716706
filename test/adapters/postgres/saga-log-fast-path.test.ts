import type pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type PostgresSagaLog,
  postgresSagaLog,
  postgresStore,
} from "../../../src/adapters/postgres/index.js";
import { SagaStatus } from "../../../src/model/records.js";
import { logFailure, sagaRecord, stepEntry } from "../../conformance/saga-log.js";
import { openScope } from "../../conformance/transaction.js";
import { openDatabase, openPool, type TestDatabase } from "./pg-test.js";

const T0 = 1_700_000_000_000;
const TTL = 1_000;

/**
 * Counts what the code under test asks of a pool: statements sent with `pool.query`, and clients
 * checked out with `pool.connect` by anything but `pool.query` itself (a transaction needs one).
 */
interface PoolCalls {
  queries: number;
  checkouts: number;
  readonly statements: string[];
  readonly values: unknown[][];
  reset(): void;
}

function countCalls(pool: pg.Pool): PoolCalls {
  const calls: PoolCalls = {
    queries: 0,
    checkouts: 0,
    statements: [],
    values: [],
    reset() {
      calls.queries = 0;
      calls.checkouts = 0;
      calls.statements.length = 0;
      calls.values.length = 0;
    },
  };
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
  // pg.Pool's query checks a client out with this.connect, synchronously, before it returns.
  let insideQuery = false;
  Object.assign(pool, {
    query: (...args: unknown[]) => {
      calls.queries++;
      const first = args[0] as string | { text: string; values?: unknown[] };
      calls.statements.push(typeof first === "string" ? first : first.text);
      calls.values.push(typeof first === "string" ? [] : (first.values ?? []));
      insideQuery = true;
      try {
        return query(...args);
      } finally {
        insideQuery = false;
      }
    },
    connect: (...args: unknown[]) => {
      if (!insideQuery) calls.checkouts++;
      return connect(...args);
    },
  });
  return calls;
}

describe("postgresSagaLog writes in one statement when it remembers the saga", () => {
  let db: TestDatabase;
  let inspect: pg.Pool;
  let calls: PoolCalls;
  let log: PostgresSagaLog;

  /** The stored header row and entry count of a saga, as SQL sees them. */
  const stored = async (sagaId: string) => {
    const { rows } = await inspect.query(
      `SELECT s.status, s.fencing_token::int AS token, s.lease_owner, s.updated_at::float8 AS updated_at,
         s.schema_version, s.record,
         (SELECT count(*) FROM lockstep_saga_entries e WHERE e.saga_id = s.saga_id)::int AS entries
       FROM lockstep_sagas s WHERE s.saga_id = $1`,
      [sagaId],
    );
    return rows[0];
  };

  beforeEach(async () => {
    db = await openDatabase({ max: 6 });
    inspect = openPool({ connectionString: db.url, max: 2 });
    calls = countCalls(db.pool);
    log = postgresSagaLog(db.pool);
    await log.ensureSchema();
  });

  afterEach(async () => {
    await inspect.end();
    await db.close();
  });

  it("a run of writes by the owner takes one pooled statement each and no transaction", async () => {
    await log.create(sagaRecord("saga-1"), [stepEntry("reserve", "intent")]);
    const changes = [
      { entries: [stepEntry("reserve", "committed")], now: T0 + 1 },
      {
        entries: [stepEntry("charge", "intent"), stepEntry("charge", "not_committed")],
        status: SagaStatus.Compensating,
        expectStatus: [SagaStatus.Running],
        now: T0 + 2,
      },
      { recovery: { attempts: 1, nextAt: T0 + 60_000 }, now: T0 + 3 },
      { entries: [stepEntry("reserve", "compensated")], now: T0 + 4 },
      { releaseLease: true, now: T0 + 5 },
    ];
    for (const [index, change] of changes.entries()) {
      calls.reset();
      await log.write("saga-1", 1, change);
      expect(calls.queries, `write ${index + 1}: statements`).toBe(1);
      expect(calls.checkouts, `write ${index + 1}: no connection checked out`).toBe(0);
      expect(calls.statements[0]).toMatch(/^WITH header AS \(\s*UPDATE/);
    }
    const snapshot = await log.load("saga-1");
    expect(snapshot?.entries.map((e) => [e.seq, e.step, e.type, e.token])).toEqual([
      [1, "reserve", "intent", 1],
      [2, "reserve", "committed", 1],
      [3, "charge", "intent", 1],
      [4, "charge", "not_committed", 1],
      [5, "reserve", "compensated", 1],
    ]);
    expect(snapshot?.record).toMatchObject({
      status: SagaStatus.Compensating,
      fencingToken: 1,
      leaseOwner: null,
      leaseExpiresAt: null,
      recoveryAttempts: 1,
      nextRecoveryAt: T0 + 60_000,
      updatedAt: T0 + 5,
    });
    expect(await stored("saga-1")).toMatchObject({ lease_owner: null, updated_at: T0 + 5 });
  });

  it("a log that has not seen the saga, or released its lease, locks once and then remembers it", async () => {
    await log.create(sagaRecord("saga-1"));
    const other = postgresSagaLog(db.pool);
    calls.reset();
    await other.write("saga-1", 1, { entries: [stepEntry("reserve", "intent")], now: T0 + 1 });
    expect(calls.checkouts, "the first write of a log that never saw the saga").toBe(1);
    calls.reset();
    await other.write("saga-1", 1, { entries: [stepEntry("reserve", "committed")], now: T0 + 2 });
    expect([calls.queries, calls.checkouts]).toEqual([1, 0]);
    await other.releaseLease("saga-1", 1);
    calls.reset();
    await other.write("saga-1", 1, { entries: [stepEntry("charge", "intent")], now: T0 + 3 });
    expect(calls.checkouts, "after releaseLease the saga is forgotten").toBe(1);
    await other.load("saga-1");
    calls.reset();
    await other.write("saga-1", 1, { entries: [stepEntry("charge", "committed")], now: T0 + 4 });
    expect([calls.queries, calls.checkouts], "load remembers the saga").toEqual([1, 0]);
    expect((await log.load("saga-1"))?.entries.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
  });

  it("after another owner takes the lease, the old owner's write is refused stale_token and appends nothing", async () => {
    for (const [sagaId, takesOver] of [
      ["by-another-log", postgresSagaLog(db.pool)],
      ["by-the-same-log", log],
    ] as const) {
      await log.create(sagaRecord(sagaId));
      await log.write(sagaId, 1, { entries: [stepEntry("reserve", "intent")], now: T0 + 1 });
      expect(await takesOver.acquireLease(sagaId, "runner-b", TTL, T0 + TTL + 1)).toBe(2);
      const before = await stored(sagaId);
      calls.reset();
      const error = await logFailure(
        log.write(sagaId, 1, {
          entries: [stepEntry("reserve", "committed")],
          status: SagaStatus.Completed,
          now: T0 + TTL + 2,
        }),
      );
      expect(error.reason, sagaId).toBe("stale_token");
      expect(calls.checkouts, "refused by the statement, then confirmed under the lock").toBe(1);
      expect(await stored(sagaId), "the row and its entries are as they were").toEqual(before);
      expect(before?.entries).toBe(1);
      // The new owner writes on from where the log stands.
      await takesOver.write(sagaId, 2, {
        entries: [stepEntry("reserve", "committed")],
        now: T0 + TTL + 3,
      });
      expect((await log.load(sagaId))?.entries.map((e) => [e.seq, e.token])).toEqual([
        [1, 1],
        [2, 2],
      ]);
    }
  });

  it("a body changed behind the writer's back is refused corrupt and left as it was", async () => {
    const cases: [tamper: string, field: string][] = [
      ["UPDATE lockstep_sagas SET record = 'not json{' WHERE saga_id = $1", "(record)"],
      ["UPDATE lockstep_sagas SET record = '{}' WHERE saga_id = $1", "schemaVersion"],
      [
        "UPDATE lockstep_sagas SET record = jsonb_set(record::jsonb, '{definition,version}', '0')::text WHERE saga_id = $1",
        "definition.version",
      ],
      // The body's text is untouched here: only the column says it is of an unknown version.
      ["UPDATE lockstep_sagas SET schema_version = 9 WHERE saga_id = $1", "schemaVersion"],
    ];
    for (const [index, [tamper, field]] of cases.entries()) {
      const sagaId = `victim-${index}`;
      await log.create(sagaRecord(sagaId));
      await log.write(sagaId, 1, { entries: [stepEntry("reserve", "intent")], now: T0 + 1 });
      await inspect.query(tamper, [sagaId]);
      const before = await stored(sagaId);
      const error = await logFailure(
        log.write(sagaId, 1, {
          entries: [stepEntry("reserve", "committed")],
          status: SagaStatus.Completed,
          now: T0 + 2,
        }),
      );
      expect([error.reason, error.field], tamper).toEqual(["corrupt", field]);
      expect(await stored(sagaId), tamper).toEqual(before);
    }
  });

  it("a valid edit of the body made behind the writer's back is kept, not overwritten", async () => {
    await log.create(sagaRecord("saga-1"));
    await log.write("saga-1", 1, { entries: [stepEntry("reserve", "intent")], now: T0 + 1 });
    await inspect.query(
      `UPDATE lockstep_sagas SET record = jsonb_set(record::jsonb, '{input,amount}', '99')::text WHERE saga_id = 'saga-1'`,
    );
    calls.reset();
    await log.write("saga-1", 1, { entries: [stepEntry("reserve", "committed")], now: T0 + 2 });
    expect(calls.checkouts, "the statement changed nothing; the locking write ran").toBe(1);
    const snapshot = await log.load("saga-1");
    expect(snapshot?.record.input).toEqual({ orderId: "o-1", amount: 99 });
    expect(snapshot?.entries.map((e) => e.seq)).toEqual([1, 2]);
  });

  it("numbers entries on from a coCommit.write whose transaction rolled back, or committed", async () => {
    const store = postgresStore(db.pool);
    await log.create(sagaRecord("saga-1"));
    // Every change here carries entries only, at the same time, so the header's text never
    // changes: only the entry numbers tell the states apart.
    const at = T0 + 1;
    await log.write("saga-1", 1, { entries: [stepEntry("reserve", "intent")], now: at });
    const rolledBack = store.transaction(async (tx) => {
      await log.coCommit.write(tx, "saga-1", 1, {
        entries: [stepEntry("reserve", "committed", { via: "co_commit" })],
        now: at,
      });
      throw new Error("a later statement of the step failed");
    }, openScope().scope);
    await expect(rolledBack).rejects.toThrow(/a later statement/);
    await log.write("saga-1", 1, { entries: [stepEntry("reserve", "not_committed")], now: at });
    await store.transaction(async (tx) => {
      await log.coCommit.write(tx, "saga-1", 1, {
        entries: [stepEntry("reserve", "intent", { attempt: 2 })],
        now: at,
      });
      await log.coCommit.write(tx, "saga-1", 1, {
        entries: [stepEntry("reserve", "committed", { attempt: 2, via: "co_commit" })],
        now: at,
      });
    }, openScope().scope);
    await log.write("saga-1", 1, { entries: [stepEntry("charge", "intent")], now: at });
    const entries = (await log.load("saga-1"))?.entries ?? [];
    expect(entries.map((e) => [e.seq, e.step, e.type, e.attempt])).toEqual([
      [1, "reserve", "intent", 1],
      [2, "reserve", "not_committed", 1],
      [3, "reserve", "intent", 2],
      [4, "reserve", "committed", 2],
      [5, "charge", "intent", 1],
    ]);
  });

  it("numbers entries right when another log appended under an unchanged header", async () => {
    const other = postgresSagaLog(db.pool);
    await log.create(sagaRecord("saga-1"));
    await log.write("saga-1", 1, { entries: [stepEntry("reserve", "intent")], now: T0 + 1 });
    await other.write("saga-1", 1, { entries: [stepEntry("reserve", "committed")], now: T0 + 1 });
    calls.reset();
    // This log still remembers one entry; its statement takes number 2 and collides.
    await log.write("saga-1", 1, { entries: [stepEntry("charge", "intent")], now: T0 + 1 });
    expect(calls.checkouts, "the collision fell back to the locking write").toBe(1);
    expect((await log.load("saga-1"))?.entries.map((e) => [e.seq, e.step, e.type])).toEqual([
      [1, "reserve", "intent"],
      [2, "reserve", "committed"],
      [3, "charge", "intent"],
    ]);
  });

  it("numbers entries from 1 when the saga was deleted and created again with the same header", async () => {
    const other = postgresSagaLog(db.pool);
    await log.create(sagaRecord("saga-1"));
    await log.write("saga-1", 1, {
      entries: [stepEntry("reserve", "intent"), stepEntry("reserve", "committed")],
      now: T0 + 1,
    });
    const header = (await other.load("saga-1"))?.record;
    const text = (await stored("saga-1"))?.record;
    await inspect.query("DELETE FROM lockstep_sagas WHERE saga_id = 'saga-1'");
    await other.create(header as NonNullable<typeof header>);
    expect((await stored("saga-1"))?.record, "the same header text as before").toBe(text);
    await log.write("saga-1", 1, { entries: [stepEntry("charge", "intent")], now: T0 + 1 });
    expect((await log.load("saga-1"))?.entries.map((e) => [e.seq, e.step])).toEqual([
      [1, "charge"],
    ]);
  });

  it("remembers at most 10,000 sagas, forgetting the oldest first", async () => {
    const ids = Array.from({ length: 10_001 }, (_, i) => `saga-${String(i).padStart(5, "0")}`);
    const [oldest, ...rest] = ids;
    await log.create(sagaRecord(oldest as string));
    for (let from = 0; from < rest.length; from += 500) {
      const batch = rest.slice(from, from + 500);
      await Promise.all(
        Array.from({ length: 5 }, async (_, lane) => {
          for (let i = lane; i < batch.length; i += 5) {
            await log.create(sagaRecord(batch[i] as string));
          }
        }),
      );
    }
    calls.reset();
    await log.write(ids[1] as string, 1, { now: T0 + 1 });
    await log.write(ids.at(-1) as string, 1, { now: T0 + 1 });
    expect([calls.queries, calls.checkouts], "the 10,000 newest are remembered").toEqual([2, 0]);
    calls.reset();
    await log.write(oldest as string, 1, { now: T0 + 1 });
    expect(calls.checkouts, "the oldest saga was forgotten").toBe(1);
  }, 120_000);

  it("adds the sagas_due index to an older database, and claims read from it even with a generic plan", async () => {
    await inspect.query("DROP INDEX lockstep_sagas_due");
    const upgraded = postgresSagaLog(db.pool);
    await upgraded.ensureSchema();
    const { rows: indexes } = await inspect.query<{ indexdef: string }>(
      "SELECT indexdef FROM pg_indexes WHERE indexname = 'lockstep_sagas_due'",
    );
    expect(indexes.map((r) => r.indexdef)).toEqual([
      expect.stringMatching(
        /ON public\.lockstep_sagas USING btree \(next_recovery_at, saga_id\) WHERE \(status = ANY \(ARRAY\['running'::text, 'compensating'::text, 'in_doubt'::text\]\)\)/,
      ),
    ]);
    // 5,000 recoverable sagas among 20,000 finished ones, all due.
    await inspect.query(
      `INSERT INTO lockstep_sagas (saga_id, name, definition_version, status, fencing_token, lease_owner,
         lease_expires_at, recovery_attempts, next_recovery_at, created_at, updated_at, schema_version, record)
       SELECT 's-' || i, 'order', 1, CASE WHEN i % 5 = 0 THEN 'running' ELSE 'completed' END, 1, NULL,
         NULL, 0, i, 0, 0, 1, '{}'
       FROM generate_series(1, 25000) AS i`,
    );
    await inspect.query("ANALYZE lockstep_sagas");
    calls.reset();
    const claimed = await upgraded.claimRecoverable("recoverer", TTL, 30_000, 10);
    expect(claimed.map((c) => c.sagaId)).toEqual(
      [5, 10, 15, 20, 25, 30, 35, 40, 45, 50].map((i) => `s-${i}`),
    );
    const client = await inspect.connect();
    try {
      await client.query("BEGIN");
      await client.query("SET LOCAL plan_cache_mode = force_generic_plan");
      await client.query(
        `PREPARE claim(int, bigint, text, bigint, text[]) AS ${calls.statements[0]}`,
      );
      const values = (calls.values[0] ?? []).map((v) => (v === null ? "NULL" : `'${v}'`));
      const { rows } = await client.query<{ "QUERY PLAN": string }>(
        `EXPLAIN EXECUTE claim(${values.join(", ")})`,
      );
      const plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
      expect(plan, plan).toMatch(/Index Scan using lockstep_sagas_due/);
      expect(plan, plan).not.toMatch(/Seq Scan/);
    } finally {
      await client.query("ROLLBACK");
      await client.query("DEALLOCATE ALL");
      client.release();
    }
  });
});
