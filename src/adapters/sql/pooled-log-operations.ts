import { type CheckedPrune, prunedEvent } from "../../log/operations-rules.js";
import type { SagaFilter } from "../../log/saga-log.js";
import type { OperatorEvent } from "../../model/operator-event.js";
import type { SagaRecord } from "../../model/records.js";
import type { OperationsStatements } from "./operations-statements.js";
import type { OutboxRow, Statement } from "./outbox-statements.js";
import type { SagaLogSql } from "./saga-log-sql.js";
import { sagaNotFound } from "./saga-log-statements.js";
import { listedRecord, sagaRowOf } from "./saga-rows.js";

/**
 * Runs one statement and answers with its rows and how many rows it matched: the scoped statement
 * runner of a driver over a pooled connection (pg, mysql2).
 */
export type RowsSql = <T>(
  sql: string,
  params?: readonly unknown[],
) => Promise<{ readonly rows: T[]; readonly rowCount: number }>;

/**
 * The saga log operations that are one plain statement in every dialect whose runner is a
 * {@link RowsSql} (Postgres, MySQL): a dialect's `SagaLogOperations` extends this and adds the
 * operations it spells its own way (create, the writes, acquiring leases, loads, claims, pruning).
 */
export abstract class PooledLogOperations<Sql extends RowsSql> {
  /** The dialect's statements, over the log's tables. */
  protected readonly statements: SagaLogSql;
  /** The operations' statements: operator events, worker reports, an operator's prune. */
  readonly operations: OperationsStatements;

  constructor(statements: SagaLogSql, operations: OperationsStatements) {
    this.statements = statements;
    this.operations = operations;
  }

  async rows(sql: Sql, statement: Statement): Promise<OutboxRow[]> {
    const { rows } = await sql<OutboxRow>(statement.sql, statement.params);
    return rows;
  }

  /**
   * An operator's prune, inside the log's transaction: locks the sagas it deletes (`FOR UPDATE`,
   * in id order), counts those it leaves for their lease, deletes the locked ones with their
   * entries, inserts the event, so the event commits with exactly what it says was deleted, and
   * forgets the workers last heard from before the cut-off.
   */
  async pruneRecorded(sql: Sql, checked: CheckedPrune): Promise<OperatorEvent> {
    const locked = this.operations.lockPrunable(checked);
    const ids = (await sql<{ saga_id: unknown }>(locked.sql, locked.params)).rows.map((row) =>
      String(row.saga_id),
    );
    const held = this.operations.countHeld(checked);
    const skipped = Number((await sql<{ n: unknown }>(held.sql, held.params)).rows[0]?.n ?? 0);
    const deleted = await this.deleteSagas(sql, ids);
    const event = prunedEvent(checked, ids, deleted, skipped);
    const insert = this.operations.insertEvent(event);
    await sql(insert.sql, insert.params);
    const forget = this.operations.forgetWorkers(checked.before);
    await sql(forget.sql, forget.params);
    return event;
  }

  /** Deletes the sagas `ids` with their entries, a chunk at a time; returns how many it deleted. */
  protected async deleteSagas(sql: Sql, ids: readonly string[]): Promise<number> {
    let deleted = 0;
    for (const [entries, sagas] of this.operations.deleteSagas(ids)) {
      await sql(entries.sql, entries.params);
      deleted += (await sql(sagas.sql, sagas.params)).rowCount;
    }
    return deleted;
  }

  async renewLease(
    sql: Sql,
    sagaId: string,
    token: number,
    ttlMs: number,
    now: number,
  ): Promise<boolean> {
    const renewed = await sql(this.statements.renewLease, [now + ttlMs, sagaId, token]);
    if (renewed.rowCount === 1) return true;
    await this.mustExist(sql, sagaId);
    return false;
  }

  async releaseLease(sql: Sql, sagaId: string, token: number): Promise<void> {
    await sql(this.statements.releaseLease, [sagaId, token]);
  }

  async quarantine(
    sql: Sql,
    sagaId: string,
    problem: { readonly field: string; readonly message: string },
    now: number,
  ): Promise<void> {
    await sql(this.statements.quarantine, this.statements.quarantineParams(sagaId, problem, now));
  }

  async list(sql: Sql, filter: SagaFilter): Promise<SagaRecord[]> {
    const query = this.statements.list(filter);
    if (query === undefined) return [];
    const { rows } = await sql<Record<string, unknown>>(query.sql, query.params);
    return rows.map((raw) => listedRecord(sagaRowOf(raw)));
  }

  /** Throws `not_found` unless the saga exists: why a compare-and-set on its row changed nothing. */
  protected async mustExist(sql: Sql, sagaId: string): Promise<void> {
    const { rows } = await sql(this.statements.exists, [sagaId]);
    if (rows.length === 0) throw sagaNotFound(sagaId);
  }
}
