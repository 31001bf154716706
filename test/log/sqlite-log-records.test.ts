import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type SqliteSagaLog,
  type SqliteStore,
  sqliteSagaLog,
  sqliteStore,
} from "../../src/adapters/sqlite/index.js";
import { SagaStatus, TERMINAL_STATUSES } from "../../src/model/records.js";
import { type TempDatabase, tempDatabase } from "../adapters/sqlite/temp-database.js";
import { logFailure, sagaRecord, stepEntry } from "../conformance/saga-log.js";

const NOW = 1_700_000_000_000;
const TTL = 1_000;

/** Sagas whose lease is free and that are due, so recovery would claim them. */
const recoverable = (id: string) => sagaRecord(id, { leaseOwner: null, leaseExpiresAt: null });

describe("sqliteSagaLog with corrupt records", () => {
  let temp: TempDatabase;
  let store: SqliteStore;
  let log: SqliteSagaLog;

  /** Tampers with the stored tables directly, as a bad migration or a disk fault would. */
  const tamper = (sql: string, params: unknown[] = []) => store.handle.run(sql, params);

  async function setUp() {
    temp = tempDatabase();
    store = sqliteStore(temp.db);
    log = sqliteSagaLog(temp.db);
    for (const id of ["saga-1", "saga-2", "saga-3"]) {
      await log.create(recoverable(id));
      await log.write(id, 1, {
        entries: [stepEntry("reserve", "intent"), stepEntry("reserve", "committed")],
        now: NOW,
      });
    }
  }

  beforeEach(setUp);

  afterEach(() => temp.remove());

  it("load names the field when a body is not JSON, fails its schema, or has an unknown schema version", async () => {
    const cases: [tamper: () => Promise<unknown>, field: string][] = [
      [
        () => tamper("UPDATE lockstep_sagas SET record = 'not json{' WHERE saga_id = 'saga-2'"),
        "(record)",
      ],
      [
        () => tamper("UPDATE lockstep_sagas SET record = '[1]' WHERE saga_id = 'saga-2'"),
        "(record)",
      ],
      [
        () =>
          tamper(
            "UPDATE lockstep_sagas SET record = json_set(record, '$.definition.version', 0) WHERE saga_id = 'saga-2'",
          ),
        "definition.version",
      ],
      [
        () => tamper("UPDATE lockstep_sagas SET schema_version = 9 WHERE saga_id = 'saga-2'"),
        "schemaVersion",
      ],
      [
        () =>
          tamper(
            "UPDATE lockstep_saga_entries SET body = json_set(body, '$.type', 'bogus') WHERE saga_id = 'saga-2' AND seq = 2",
          ),
        "entries.2.type",
      ],
      [
        () => tamper("DELETE FROM lockstep_saga_entries WHERE saga_id = 'saga-2' AND seq = 1"),
        "entries.1",
      ],
    ];
    expect(cases, "every kind of corruption is checked").toHaveLength(6);
    for (const [corrupt, field] of cases) {
      // Each case starts from the intact sagas of beforeEach, on a database of its own.
      temp.remove();
      await setUp();
      await corrupt();
      const error = await logFailure(log.load("saga-2"));
      expect(error.reason, field).toBe("corrupt");
      expect(error.field).toBe(field);
      expect(error.sagaId).toBe("saga-2");
      expect(error.message).toContain(`\`${field}\``);
      expect((await log.load("saga-1"))?.entries, "other sagas stay readable").toHaveLength(2);
    }
  });

  it("claimRecoverable claims every saga by its columns, a corrupt one included, without failing", async () => {
    await tamper("UPDATE lockstep_sagas SET record = 'garbage' WHERE saga_id = 'saga-2'");
    const claimed = await log.claimRecoverable("recoverer", TTL, NOW, 10);
    expect(claimed.map((c) => c.sagaId).sort()).toEqual(["saga-1", "saga-2", "saga-3"]);
    expect((await log.load("saga-1"))?.record.leaseOwner).toBe("recoverer");
  });

  it("quarantine marks a saga whose body is garbage, keeps the body, and recovery leaves it alone", async () => {
    await tamper("UPDATE lockstep_sagas SET record = 'garbage' WHERE saga_id = 'saga-2'");
    const error = await logFailure(log.load("saga-2"));
    await log.quarantine("saga-2", { field: error.field ?? "", message: error.message }, NOW + 1);
    const row = await store.handle.get<Record<string, unknown>>(
      "SELECT status, record, problem_field, quarantined_at FROM lockstep_sagas WHERE saga_id = 'saga-2'",
    );
    expect(row).toEqual({
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
    await tamper("UPDATE lockstep_sagas SET record = 'garbage' WHERE saga_id = 'saga-2'");
    const listed = await log.list();
    expect(listed.map((r) => r.sagaId)).toEqual(["saga-3", "saga-2", "saga-1"]);
    const corrupt = listed.find((r) => r.sagaId === "saga-2");
    expect(corrupt).toMatchObject({
      status: SagaStatus.Running,
      definition: { name: "order", version: 1, steps: [] },
      input: null,
      attention: { reason: "corrupt_record" },
      fencingToken: 1,
      updatedAt: NOW,
    });
    expect(corrupt?.attention?.message).toMatch(/`\(record\)`/);
    expect(listed.find((r) => r.sagaId === "saga-1")).toEqual((await log.load("saga-1"))?.record);
    await log.quarantine("saga-2", { field: "(record)", message: "not JSON" }, NOW + 1);
    const [quarantined] = await log.list({ status: [SagaStatus.Quarantined], name: "order" });
    expect(quarantined?.sagaId).toBe("saga-2");
    expect(quarantined?.attention?.message).toBe("Quarantined at `(record)`: not JSON");
  });

  it("prune removes a corrupt terminal saga with its entries", async () => {
    await tamper("UPDATE lockstep_sagas SET record = 'garbage' WHERE saga_id = 'saga-2'");
    await log.quarantine("saga-2", { field: "(record)", message: "not JSON" }, NOW + 1);
    // Quarantined sagas are kept by default; pruning them is an explicit choice.
    expect(await log.prune(NOW + 2)).toBe(0);
    expect(await log.prune(NOW + 2, TERMINAL_STATUSES)).toBe(1);
    const left = await store.handle.all<{ saga_id: string }>(
      "SELECT DISTINCT saga_id FROM lockstep_saga_entries ORDER BY saga_id",
    );
    expect(left.map((r) => r.saga_id)).toEqual(["saga-1", "saga-3"]);
  });
});

describe("sqliteSagaLog storage", () => {
  let temp: TempDatabase;

  beforeEach(() => {
    temp = tempDatabase();
  });

  afterEach(() => temp.remove());

  it("creates its tables idempotently under the configured prefix; prefixes keep logs apart", async () => {
    const billing = sqliteSagaLog(temp.db, { tablePrefix: "billing_" });
    await billing.create(sagaRecord("saga-1"));
    const again = sqliteSagaLog(temp.db, { tablePrefix: "billing_" });
    expect((await again.load("saga-1"))?.record.sagaId).toBe("saga-1");
    const other = sqliteSagaLog(temp.db);
    expect(await other.load("saga-1")).toBeUndefined();
    const tables = await sqliteStore(temp.db).handle.all<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    );
    expect(tables.map((t) => t.name)).toEqual([
      "billing_operator_events",
      "billing_recovery_workers",
      "billing_saga_entries",
      "billing_saga_outbox",
      "billing_sagas",
      "lockstep_operator_events",
      "lockstep_recovery_workers",
      "lockstep_saga_entries",
      "lockstep_saga_outbox",
      "lockstep_sagas",
    ]);
  });

  it("keeps every record across closing and reopening the file", async () => {
    const log = sqliteSagaLog(temp.db);
    await log.create(sagaRecord("saga-1"));
    await log.write("saga-1", 1, { entries: [stepEntry("reserve", "intent")], now: NOW });
    const before = await log.load("saga-1");
    temp.db.close();
    const reopened = sqliteSagaLog(temp.reopen());
    expect(await reopened.load("saga-1")).toEqual(before);
  });

  it("write is atomic: when an entry cannot be stored, the status change is not stored either", async () => {
    const log = sqliteSagaLog(temp.db);
    await log.create(sagaRecord("saga-1"));
    await sqliteStore(temp.db).handle.run(
      "CREATE TRIGGER refuse_second BEFORE INSERT ON lockstep_saga_entries WHEN NEW.seq = 2 BEGIN SELECT RAISE(ABORT, 'disk says no'); END",
    );
    const error = await logFailure(
      log.write("saga-1", 1, {
        entries: [stepEntry("reserve", "intent"), stepEntry("reserve", "committed")],
        status: SagaStatus.Completed,
        now: NOW + 1,
      }),
    );
    expect(error.reason).toBe("io");
    const snapshot = await log.load("saga-1");
    expect(snapshot?.record.status).toBe(SagaStatus.Running);
    expect(snapshot?.entries).toEqual([]);
  });

  it("prune is atomic: when one saga cannot be deleted, no saga or entry is", async () => {
    const log = sqliteSagaLog(temp.db);
    for (const id of ["a", "b"]) {
      await log.create(sagaRecord(id, { status: SagaStatus.Completed }));
      await log.write(id, 1, { entries: [stepEntry("reserve", "intent")], now: NOW });
    }
    await sqliteStore(temp.db).handle.run(
      "CREATE TRIGGER keep_b BEFORE DELETE ON lockstep_sagas WHEN OLD.saga_id = 'b' BEGIN SELECT RAISE(ABORT, 'keep b'); END",
    );
    expect((await logFailure(log.prune(NOW + 10))).reason).toBe("io");
    expect((await log.load("a"))?.entries, "a half-done prune must not remain").toHaveLength(1);
    expect((await log.load("b"))?.entries).toHaveLength(1);
  });
});
