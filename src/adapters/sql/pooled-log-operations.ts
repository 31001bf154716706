import type { SagaFilter } from "../../log/saga-log.js";
import type { SagaRecord } from "../../model/records.js";
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

  constructor(statements: SagaLogSql) {
    this.statements = statements;
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
