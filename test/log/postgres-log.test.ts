import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type PostgresSagaLog, postgresSagaLog } from "../../src/adapters/postgres/index.js";
import { SagaStatus } from "../../src/model/records.js";
import {
  expectConformanceCases,
  openSchema,
  type TestSchema,
} from "../adapters/postgres/pg-test.js";
import { logFailure, sagaLogConformance, sagaRecord, stepEntry } from "../conformance/saga-log.js";

const NOW = 1_700_000_000_000;
const TTL = 1_000;

sagaLogConformance("postgresSagaLog", async () => {
  const db = await openSchema();
  return { log: postgresSagaLog(db.pool, { schema: db.schema }), close: () => db.close() };
});
expectConformanceCases("SagaLog conformance: postgresSagaLog", 23);
expectConformanceCases("OperationsLog conformance: postgresSagaLog", 8);

sagaLogConformance("postgresSagaLog with a table prefix, in a schema it creates", async () => {
  const db = await openSchema();
  const schema = `${db.schema}_log`;
  return {
    log: postgresSagaLog(db.pool, { schema, tablePrefix: "billing_" }),
    close: async () => {
      await db.admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await db.close();
    },
  };
});

expectConformanceCases(
  "SagaLog conformance: postgresSagaLog with a table prefix, in a schema it creates",
  23,
);

/** Sagas whose lease is free and that are due, so recovery would claim them. */
const recoverable = (id: string) => sagaRecord(id, { leaseOwner: null, leaseExpiresAt: null });

describe("postgresSagaLog tables", () => {
  let db: TestSchema;
  let log: PostgresSagaLog;

  beforeEach(async () => {
    db = await openSchema();
    log = postgresSagaLog(db.pool, { schema: db.schema });
  });

  afterEach(() => db.close());

  it("creates its tables once, from many logs and connections at the same time", async () => {
    const logs = Array.from({ length: 8 }, () =>
      postgresSagaLog(db.pool, { schema: db.schema, tablePrefix: "racing_" }),
    );
    await Promise.all(logs.map((each) => each.ensureSchema()));
    const { rows } = await db.admin.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
      [db.schema],
    );
    expect(rows.map((r) => r.table_name)).toEqual([
      "racing_operator_events",
      "racing_recovery_workers",
      "racing_saga_entries",
      "racing_saga_outbox",
      "racing_sagas",
    ]);
    await logs[3]?.create(recoverable("saga-1"));
    expect((await logs[5]?.load("saga-1"))?.record.sagaId).toBe("saga-1");
  });

  it("refuses a schema or prefix that is not a plain identifier, naming the value", () => {
    expect(() => postgresSagaLog(db.pool, { schema: 'x"; DROP TABLE y; --' })).toThrow(
      /Expected `schema` to be letters, digits and underscores .*got `"x\\"; DROP TABLE y; --"` \(string\)/,
    );
    expect(() => postgresSagaLog(db.pool, { tablePrefix: "1abc" })).toThrow(/`tablePrefix`/);
    expect(() => postgresSagaLog({} as never)).toThrow(/Expected `pool` to be a pg.Pool/);
  });

  it("stores bigint columns and reads them back as numbers, past 2^31", async () => {
    const far = 4_102_444_800_000; // 2100-01-01
    await log.create(sagaRecord("saga-1", { leaseExpiresAt: far, createdAt: far, updatedAt: far }));
    const record = (await log.load("saga-1"))?.record;
    expect(record?.leaseExpiresAt).toBe(far);
    expect(typeof record?.fencingToken).toBe("number");
    expect(await log.acquireLease("saga-1", "other", TTL, far + 1)).toBe(2);
  });

  it("keeps outputs JSON cannot carry in jsonb, such as a NUL character, exactly", async () => {
    await log.create(sagaRecord("saga-1"));
    await log.write("saga-1", 1, {
      entries: [
        stepEntry("reserve", "committed", { output: { note: "a\u0000b", emoji: "\ud83d\ude00" } }),
      ],
      now: NOW,
    });
    expect((await log.load("saga-1"))?.entries[0]?.output).toEqual({
      note: "a\u0000b",
      emoji: "\ud83d\ude00",
    });
  });
});

describe("postgresSagaLog with corrupt records", () => {
  let db: TestSchema;
  let log: PostgresSagaLog;

  /** Tampers with the stored tables directly, as a bad migration or a disk fault would. */
  const tamper = (sql: string) => db.admin.query(sql.replaceAll("$schema", `"${db.schema}"`));

  beforeEach(async () => {
    db = await openSchema();
    log = postgresSagaLog(db.pool, { schema: db.schema });
    for (const id of ["saga-1", "saga-2", "saga-3"]) {
      await log.create(recoverable(id));
      await log.write(id, 1, {
        entries: [stepEntry("reserve", "intent"), stepEntry("reserve", "committed")],
        now: NOW,
      });
    }
  });

  afterEach(() => db.close());

  it("load names the field when a body is not JSON, fails its schema, or has an unknown schema version", async () => {
    const cases: [tamper: string, field: string][] = [
      ["UPDATE $schema.lockstep_sagas SET record = 'not json{' WHERE saga_id = $id", "(record)"],
      ["UPDATE $schema.lockstep_sagas SET record = '[1]' WHERE saga_id = $id", "(record)"],
      [
        "UPDATE $schema.lockstep_sagas SET record = jsonb_set(record::jsonb, '{definition,version}', '0')::text WHERE saga_id = $id",
        "definition.version",
      ],
      ["UPDATE $schema.lockstep_sagas SET schema_version = 9 WHERE saga_id = $id", "schemaVersion"],
      [
        `UPDATE $schema.lockstep_saga_entries SET body = jsonb_set(body::jsonb, '{type}', '"bogus"')::text WHERE saga_id = $id AND seq = 2`,
        "entries.2.type",
      ],
      ["DELETE FROM $schema.lockstep_saga_entries WHERE saga_id = $id AND seq = 1", "entries.1"],
    ];
    expect(cases, "every kind of corruption is checked").toHaveLength(6);
    for (const [index, [sql, field]] of cases.entries()) {
      // Each case corrupts a saga of its own, so every case starts from an intact record.
      const victim = `victim-${index}`;
      await log.create(recoverable(victim));
      await log.write(victim, 1, {
        entries: [stepEntry("reserve", "intent"), stepEntry("reserve", "committed")],
        now: NOW,
      });
      await tamper(sql.replaceAll("$id", `'${victim}'`));
      const error = await logFailure(log.load(victim));
      expect(error.reason, field).toBe("corrupt");
      expect(error.field).toBe(field);
      expect(error.sagaId).toBe(victim);
      expect(error.message).toContain(`\`${field}\``);
      expect((await log.load("saga-1"))?.entries, "other sagas stay readable").toHaveLength(2);
    }
  });

  it("claimRecoverable claims every saga by its columns, a corrupt one included, without failing", async () => {
    await tamper("UPDATE $schema.lockstep_sagas SET record = 'garbage' WHERE saga_id = 'saga-2'");
    const claimed = await log.claimRecoverable("recoverer", TTL, NOW, 10);
    expect(claimed.map((c) => c.sagaId).sort()).toEqual(["saga-1", "saga-2", "saga-3"]);
    expect((await log.load("saga-1"))?.record.leaseOwner).toBe("recoverer");
  });

  it("quarantine marks a saga whose body is garbage, keeps the body, and recovery leaves it alone", async () => {
    await tamper("UPDATE $schema.lockstep_sagas SET record = 'garbage' WHERE saga_id = 'saga-2'");
    const error = await logFailure(log.load("saga-2"));
    await log.quarantine("saga-2", { field: error.field ?? "", message: error.message }, NOW + 1);
    const { rows } = await tamper(
      "SELECT status, record, problem_field, quarantined_at::float8 AS quarantined_at FROM $schema.lockstep_sagas WHERE saga_id = 'saga-2'",
    );
    expect(rows[0]).toEqual({
      status: "quarantined",
      record: "garbage",
      problem_field: "(record)",
      quarantined_at: NOW + 1,
    });
    const claimed = await log.claimRecoverable("recoverer", TTL, NOW + 2, 10);
    expect(claimed.map((c) => c.sagaId).sort(), "a quarantined saga is not recovered").toEqual([
      "saga-1",
      "saga-3",
    ]);
    expect((await logFailure(log.load("saga-2"))).reason, "the evidence stays corrupt").toBe(
      "corrupt",
    );
  });

  it("list returns the readable sagas and shows a corrupt one rebuilt from its columns", async () => {
    await tamper("UPDATE $schema.lockstep_sagas SET record = 'garbage' WHERE saga_id = 'saga-2'");
    const listed = await log.list();
    expect(listed.map((r) => r.sagaId)).toEqual(["saga-3", "saga-2", "saga-1"]);
    expect(listed.find((r) => r.sagaId === "saga-2")).toMatchObject({
      status: SagaStatus.Running,
      input: null,
      definition: { name: "order", version: 1, steps: [] },
      attention: { reason: "corrupt_record" },
    });
    await log.quarantine("saga-2", { field: "(record)", message: "not JSON" }, NOW + 1);
    const quarantined = await log.list({ status: [SagaStatus.Quarantined] });
    expect(quarantined.map((r) => [r.sagaId, r.status, r.attention?.message])).toEqual([
      ["saga-2", "quarantined", "Quarantined at `(record)`: not JSON"],
    ]);
  });

  it("a write to a saga whose body is corrupt is refused as corrupt and changes nothing", async () => {
    await tamper("UPDATE $schema.lockstep_sagas SET record = '{}' WHERE saga_id = 'saga-2'");
    const error = await logFailure(
      log.write("saga-2", 1, { entries: [stepEntry("charge", "intent")], now: NOW + 1 }),
    );
    expect(error.reason).toBe("corrupt");
    const { rows } = await tamper(
      "SELECT count(*)::int AS n FROM $schema.lockstep_saga_entries WHERE saga_id = 'saga-2'",
    );
    expect(rows[0]?.n, "no entry may land for a corrupt saga").toBe(2);
  });
});

describe("postgresSagaLog claims across connections", () => {
  let db: TestSchema;
  let log: PostgresSagaLog;

  beforeEach(async () => {
    db = await openSchema({ max: 20 });
    log = postgresSagaLog(db.pool, { schema: db.schema });
  });

  afterEach(() => db.close());

  it("claimRecoverable skips a saga another transaction holds locked instead of waiting for it", async () => {
    for (const id of ["a", "b", "c"]) await log.create(recoverable(id));
    const holder = await db.admin.connect();
    try {
      await holder.query("BEGIN");
      await holder.query(
        `SELECT 1 FROM "${db.schema}".lockstep_sagas WHERE saga_id = 'b' FOR UPDATE`,
      );
      // Were the claim to wait for the lock, this call would hang until the test times out.
      const claimed = await log.claimRecoverable("recoverer", TTL, NOW, 10);
      expect(claimed.map((c) => c.sagaId).sort()).toEqual(["a", "c"]);
    } finally {
      await holder.query("ROLLBACK");
      holder.release();
    }
    expect((await log.claimRecoverable("recoverer", TTL, NOW, 10)).map((c) => c.sagaId)).toEqual([
      "b",
    ]);
  });

  it("claimRecoverable with names claims only sagas of those names", async () => {
    const refund = { name: "refund", version: 1, steps: [] };
    await log.create(recoverable("order-1"));
    await log.create(
      sagaRecord("refund-1", { leaseOwner: null, leaseExpiresAt: null, definition: refund }),
    );
    const claim = (names?: readonly string[]) =>
      log.claimRecoverable("recoverer", TTL, NOW, 10, names === undefined ? {} : { names });
    expect(await claim([]), "no names, no claims").toEqual([]);
    expect((await claim(["refund", "other"])).map((c) => c.sagaId)).toEqual(["refund-1"]);
    expect((await claim()).map((c) => c.sagaId)).toEqual(["order-1"]);
  });

  it("claimers on many connections at once claim every saga exactly once, each with token 2", async () => {
    const ids = Array.from({ length: 120 }, (_, i) => `saga-${String(i).padStart(3, "0")}`);
    for (const id of ids) await log.create(recoverable(id));
    const claimers = Array.from({ length: 12 }, (_, i) =>
      (async () => {
        const mine: string[] = [];
        for (;;) {
          const batch = await log.claimRecoverable(`claimer-${i}`, 60_000, NOW, 7);
          if (batch.length === 0) return mine;
          for (const claim of batch) {
            expect(claim.token).toBe(2);
            mine.push(claim.sagaId);
          }
        }
      })(),
    );
    const results = await Promise.all(claimers);
    const all = results.flat();
    console.log(
      `[postgres] concurrent claims: ${all.length} sagas claimed by ${results.filter((r) => r.length > 0).length} of ${results.length} claimers`,
    );
    expect(all.length, "every saga claimed").toBe(ids.length);
    expect(new Set(all).size, "no saga claimed twice").toBe(ids.length);
    const owners = await db.admin.query<{ owners: number }>(
      `SELECT count(DISTINCT lease_owner)::int AS owners FROM "${db.schema}".lockstep_sagas WHERE fencing_token = 2`,
    );
    expect(owners.rows[0]?.owners).toBe(results.filter((r) => r.length > 0).length);
  });
});
