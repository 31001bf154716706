import { applyChange, numberEntries, validateLogRecord } from "../../log/log-rules.js";
import { type ClaimedSaga, type SagaChange, SagaLogError } from "../../log/saga-log.js";
import type { NewOutboxMessage } from "../../model/outbox.js";
import {
  type NewStepEntry,
  type SagaRecord,
  type SagaStatus,
  SCHEMA_VERSION,
  sagaRecordSchema,
} from "../../model/records.js";
import { OperationsStatements } from "../sql/operations-statements.js";
import { OutboxStatements } from "../sql/outbox-statements.js";
import { PooledLogOperations } from "../sql/pooled-log-operations.js";
import type { LoadedSaga, SagaLogOperations, WrittenSaga } from "../sql/saga-log-operations.js";
import { SagaLogSql } from "../sql/saga-log-sql.js";
import * as logSql from "../sql/saga-log-statements.js";
import { RECOVERABLE_STATUS_LIST } from "../sql/saga-log-tables.js";
import { entriesOf, HEADER_COLUMNS, headerValues, recordOf, sagaRowOf } from "../sql/saga-rows.js";
import { sqlstateOf } from "./classify-postgres-error.js";
import { postgresDialect } from "./postgres-dialect.js";
import type { ScopedSql } from "./postgres-transaction.js";
import type { SagaLogTables } from "./saga-log-schema.js";

/** Runs one statement: through the pool, or through a transaction's handle. */
export type Sql = ScopedSql;

/** Appends the entries numbered in `$seqs` with bodies in `$bodies` if the `header` CTE changed a row. */
const appendEntries = (entries: string, seqs: number) => `appended AS (
         INSERT INTO ${entries} (saga_id, seq, body)
         SELECT $1, e.seq, e.body FROM unnest($${seqs}::int[], $${seqs + 1}::text[]) AS e(seq, body)
         WHERE EXISTS (SELECT 1 FROM header)
         RETURNING 1
       )`;

/**
 * The saga log's statements in Postgres. `write` must run inside a transaction (its own, or the
 * caller's for co-commit), because it locks the saga row (`FOR UPDATE`) before checking the fencing
 * token; every other operation, `fastWrite` included, is one statement, atomic on its own. Entries
 * are appended in the same statement as their header (a CTE over `unnest` arrays), only if the
 * header changed.
 */
export class PostgresLogOperations
  extends PooledLogOperations<Sql>
  implements SagaLogOperations<Sql, "async">
{
  readonly #t: SagaLogTables;
  readonly #create: string;
  readonly #lockedRow: string;
  readonly #update: string;
  readonly outbox: OutboxStatements;

  constructor(tables: SagaLogTables) {
    super(
      new SagaLogSql(postgresDialect, tables),
      new OperationsStatements(postgresDialect, tables, "on-conflict"),
    );
    this.#t = tables;
    this.outbox = new OutboxStatements(postgresDialect, tables.outbox, tables.sagas);
    // The header's columns are $1 to $13 (an update's: $1, then $2 to $13); the entries follow.
    const at = HEADER_COLUMNS.length + 1;
    this.#create = `WITH header AS (
         ${logSql.insertHeaderSql(postgresDialect, tables.sagas)} RETURNING saga_id
       ), ${appendEntries(tables.entries, at)}
       SELECT (SELECT count(*) FROM header)::int AS inserted`;
    this.#lockedRow = logSql.lockedRowSql(postgresDialect, tables.sagas, tables.entries);
    this.#update = `WITH header AS (
         UPDATE ${tables.sagas} SET ${logSql.headerAssignments(postgresDialect, 2)} WHERE saga_id = $1 AND fencing_token = $${at} RETURNING saga_id
       ), ${appendEntries(tables.entries, at + 1)}
       SELECT (SELECT count(*) FROM header)::int AS updated`;
  }

  /** Whether every table and index already exists, checked without taking any lock. */
  async schemaExists(sql: Sql): Promise<boolean> {
    const { rows } = await sql<{ missing: number }>(
      `SELECT count(*) FILTER (WHERE to_regclass(name) IS NULL)::int AS missing FROM unnest($1::text[]) AS t(name)`,
      [this.#t.objects],
    );
    return rows[0]?.missing === 0;
  }

  /**
   * Creates the schema, tables and indexes that are missing. Runs in a transaction that holds an
   * advisory lock, because concurrent `CREATE … IF NOT EXISTS` statements can still collide in
   * Postgres's catalogs when several processes start at once.
   */
  async createSchema(sql: Sql): Promise<void> {
    await sql("SELECT pg_advisory_xact_lock(hashtext($1))", [this.#t.lockKey]);
    const { rows } = await sql<{ present: boolean }>(
      "SELECT to_regnamespace($1) IS NOT NULL AS present",
      [`"${this.#t.schema}"`],
    );
    if (rows[0]?.present !== true) await sql(`CREATE SCHEMA IF NOT EXISTS "${this.#t.schema}"`);
    await sql(this.#t.ddl);
  }

  /**
   * Inserts a validated header and its first entries (numbered from 1 under its fencing token) in
   * one statement, atomic on its own: the entries are inserted only if the header was.
   */
  async create(
    sql: Sql,
    record: SagaRecord,
    entries: readonly NewStepEntry[],
    messages: readonly NewOutboxMessage[],
  ): Promise<WrittenSaga> {
    const numbered = numberEntries(record.sagaId, record.fencingToken, 0, entries);
    const outboxed = this.outbox.insert(messages, record.updatedAt);
    const values = headerValues(record);
    const { rows } = await sql<{ inserted: number }>(this.#create, [
      ...values,
      numbered.map((e) => e.seq),
      numbered.map((e) => JSON.stringify(e)),
    ]);
    if (rows[0]?.inserted !== 1) throw logSql.sagaExists(record.sagaId);
    // With messages the log runs this in a transaction (its own, or the caller's co-commit).
    for (const statement of outboxed) await sql(statement.sql, statement.params);
    return { record, recordText: values.at(-1) as string, lastSeq: numbered.length };
  }

  /**
   * Applies a change; `sql` must be inside a transaction, which holds the saga row until it ends.
   * Reads and validates the row under `FOR UPDATE` first, so every refusal is exact: `not_found`,
   * `corrupt`, `stale_token`, `status_mismatch`. Returns the header as written.
   */
  async write(sql: Sql, sagaId: string, token: number, change: SagaChange): Promise<WrittenSaga> {
    const { rows } = await sql<Record<string, unknown>>(this.#lockedRow, [sagaId, sagaId]);
    const raw = rows[0];
    if (raw === undefined) throw logSql.sagaNotFound(sagaId);
    const last = Number(raw.last_seq);
    const plan = logSql.planWrite(sagaRowOf(raw), last, token, change);
    const outboxed = this.outbox.insert(change.messages ?? [], change.now);
    const entries = plan.entries;
    const written = await sql<{ updated: number }>(this.#update, [
      sagaId,
      ...plan.values,
      token,
      entries.map((e) => e.seq),
      entries.map((e) => JSON.stringify(e)),
    ]);
    if (written.rows[0]?.updated !== 1) throw logSql.staleToken(sagaId, token);
    for (const statement of outboxed) await sql(statement.sql, statement.params);
    return { record: plan.next, recordText: plan.recordText, lastSeq: last + entries.length };
  }

  /**
   * Applies a change in one autocommit statement, without reading the row first, on the assumption
   * that the row still holds `prior` (what this log last wrote, created or loaded). The statement
   * updates the header only if the row's fencing token is `token` and its status, schema version
   * and stored record text are exactly `prior`'s, and appends the entries only if the header was
   * updated, numbered after `prior.lastSeq` (which must still be the last entry stored).
   *
   * Returns `undefined`, having changed nothing, whenever it cannot be sure: the row differs from
   * `prior` in any way the conditions see (another owner, a stale token, an edited or corrupt body,
   * a status `change.expectStatus` does not allow, a missing saga), a concurrent writer appended an
   * entry (unique violation), or the change would not validate. The caller then takes the locking
   * {@link write}, which refuses with the exact error. Any other failure is thrown: the statement
   * may or may not have committed, exactly as when a locking write's `COMMIT` fails.
   *
   * Fields the row holds only in columns (the lease owner and expiry, changed by lease calls without
   * touching the body) are left as they are: the update sets neither them nor the token, except
   * that `releaseLease` clears the lease. Reads lay those columns over the body, as always.
   */
  async fastWrite(
    sql: Sql,
    sagaId: string,
    token: number,
    change: SagaChange,
    prior: WrittenSaga,
  ): Promise<WrittenSaga | undefined> {
    // A new attempt generation raises the token, which this statement never sets: the locking
    // write does. It is rare (only an open attempt's probe asks for it), so it costs nothing here.
    if (change.fence) return undefined;
    // Outbox messages are more rows than this statement writes: the locking write inserts them.
    if (change.messages !== undefined && change.messages.length > 0) return undefined;
    const record: SagaRecord = { ...prior.record, fencingToken: token };
    if (change.expectStatus && !change.expectStatus.includes(record.status)) return undefined;
    // The statement checks the row is still `prior`; a writer that expects another version is
    // refused by the locking write, which names what it found.
    if (change.expectSeq !== undefined && change.expectSeq !== prior.lastSeq) return undefined;
    let next: SagaRecord;
    let entries: ReturnType<typeof numberEntries>;
    try {
      next = validateLogRecord(sagaRecordSchema, applyChange(record, change), sagaId);
      entries = numberEntries(sagaId, token, prior.lastSeq, change.entries ?? []);
    } catch (error) {
      // The locking write decides which refusal comes first (a stale token before a bad entry).
      if (SagaLogError.is(error)) return undefined;
      throw error;
    }
    const recordText = JSON.stringify(next);
    const release = change.releaseLease ? ", lease_owner = NULL, lease_expires_at = NULL" : "";
    let updated: number | undefined;
    try {
      const { rows } = await sql<{ updated: number }>(
        `WITH header AS (
           UPDATE ${this.#t.sagas}
           SET status = $2, record = $3, updated_at = $4, recovery_attempts = $5, next_recovery_at = $6${release}
           WHERE saga_id = $1 AND fencing_token = $7 AND status = $8 AND schema_version = $9 AND record = $10
             AND ($11::int = 0 OR EXISTS (SELECT 1 FROM ${this.#t.entries} WHERE saga_id = $1 AND seq = $11::int))
           RETURNING saga_id
         ), ${appendEntries(this.#t.entries, 12)}
         SELECT (SELECT count(*) FROM header)::int AS updated`,
        [
          sagaId,
          next.status,
          recordText,
          next.updatedAt,
          next.recoveryAttempts,
          next.nextRecoveryAt,
          token,
          prior.record.status,
          SCHEMA_VERSION,
          prior.recordText,
          prior.lastSeq,
          entries.map((e) => e.seq),
          entries.map((e) => JSON.stringify(e)),
        ],
      );
      updated = rows[0]?.updated;
    } catch (error) {
      // Another writer appended an entry under the number this one chose: nothing was written.
      if (sqlstateOf(error) === "23505") return undefined;
      throw error;
    }
    if (updated !== 1) return undefined;
    return { record: next, recordText, lastSeq: prior.lastSeq + entries.length };
  }

  async acquireLease(
    sql: Sql,
    sagaId: string,
    owner: string,
    ttlMs: number,
    now: number,
  ): Promise<number | undefined> {
    const { rows } = await sql<{ fencing_token: string }>(
      `${this.statements.takeLease} RETURNING fencing_token`,
      [owner, now + ttlMs, now, sagaId, now],
    );
    const taken = rows[0];
    if (taken !== undefined) return Number(taken.fencing_token);
    await this.mustExist(sql, sagaId);
    return undefined;
  }

  /** Reads the header and its entries in one statement, so both come from one snapshot. */
  async load(sql: Sql, sagaId: string): Promise<LoadedSaga | undefined> {
    const { rows } = await sql<Record<string, unknown>>(
      `SELECT s.*,
         ARRAY(SELECT e.seq FROM ${this.#t.entries} e WHERE e.saga_id = s.saga_id ORDER BY e.seq) AS entry_seqs,
         ARRAY(SELECT e.body FROM ${this.#t.entries} e WHERE e.saga_id = s.saga_id ORDER BY e.seq) AS entry_bodies
       FROM ${this.#t.sagas} s WHERE s.saga_id = $1`,
      [sagaId],
    );
    const raw = rows[0];
    if (raw === undefined) return undefined;
    const record = recordOf(sagaRowOf(raw));
    const seqs = raw.entry_seqs as number[];
    const bodies = raw.entry_bodies as string[];
    const entries = entriesOf(
      sagaId,
      seqs.map((seq, i) => ({ seq, body: bodies[i] as string })),
    );
    return {
      snapshot: { record, entries },
      written: { record, recordText: String(raw.record), lastSeq: entries.length },
    };
  }

  /**
   * Claims in one statement: the candidate rows are locked with `FOR UPDATE SKIP LOCKED`, so claimers
   * in other processes skip each other's candidates instead of waiting for them or taking them too,
   * and a row another claimer took meanwhile fails the lease condition when it is re-checked. The
   * status condition is written out literally, as the partial index `sagas_due` states it, so the
   * planner reads the candidates in claim order from that index and stops after `limit` of them;
   * the claimed rows are then updated by primary key (an array of ids, where joining the CTE led the
   * planner to scan the whole table).
   */
  async claimRecoverable(
    sql: Sql,
    owner: string,
    ttlMs: number,
    now: number,
    limit: number,
    names: readonly string[] | undefined,
  ): Promise<ClaimedSaga[]> {
    if (limit === 0 || names?.length === 0) return [];
    const { rows } = await sql<{
      saga_id: string;
      fencing_token: string;
      next_recovery_at: string;
    }>(
      `WITH candidates AS (
         SELECT saga_id FROM ${this.#t.sagas}
         WHERE status IN (${RECOVERABLE_STATUS_LIST}) AND next_recovery_at <= $2 AND ${logSql.leaseIsFree("$2")}
           AND ($5::text[] IS NULL OR name = ANY($5::text[]))
         ORDER BY next_recovery_at, saga_id
         LIMIT $1
         FOR UPDATE SKIP LOCKED
       )
       UPDATE ${this.#t.sagas} AS s
       SET fencing_token = s.fencing_token + 1, lease_owner = $3, lease_expires_at = $4, updated_at = $2
       WHERE s.saga_id = ANY (ARRAY(SELECT saga_id FROM candidates))
       RETURNING s.saga_id, s.fencing_token, s.next_recovery_at`,
      [limit, now, owner, now + ttlMs, names === undefined ? null : [...names]],
    );
    return rows
      .map((row) => ({ ...row, due: Number(row.next_recovery_at) }))
      .sort((a, b) => a.due - b.due || (a.saga_id < b.saga_id ? -1 : 1))
      .map((row) => ({ sagaId: row.saga_id, token: Number(row.fencing_token) }));
  }

  /** Deletes old terminal sagas; their entries go with them (`ON DELETE CASCADE`), in one statement. */
  async prune(sql: Sql, before: number, statuses: readonly SagaStatus[]): Promise<number> {
    const deleted = await sql(
      `DELETE FROM ${this.#t.sagas} WHERE status = ANY($1::text[]) AND updated_at < $2::double precision`,
      [statuses, before],
    );
    return deleted.rowCount;
  }
}
