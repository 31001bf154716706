import type { SagaFilter } from "../../log/saga-log.js";
import type { SagaStatus, StepEntry } from "../../model/records.js";
import { headerAssignments, leaseIsFree, listStatement } from "./saga-log-statements.js";
import { RECOVERABLE_CONDITION } from "./saga-log-tables.js";
import { HEADER_COLUMNS } from "./saga-rows.js";
import type { SqlDialect } from "./sql-dialect.js";

/** The log's two tables, by their quoted names. */
export interface SagaLogTableNames {
  readonly sagas: string;
  readonly entries: string;
}

/** A statement with its parameters. */
export interface Statement {
  readonly sql: string;
  readonly params: unknown[];
}

/**
 * The saga log's statements that read the same in every dialect but for their placeholders, built
 * once per log. Each names, beside it, its parameters in order: the same array in every dialect,
 * since placeholders are numbered in the order they appear.
 */
export class SagaLogSql {
  /** The whole header row. Parameters: the saga id. */
  readonly selectRow: string;
  /** A saga's entries, in order. Parameters: the saga id. */
  readonly selectEntries: string;
  /** A row (`found`) when the saga exists. Parameters: the saga id. */
  readonly exists: string;
  /** The saga's `fencing_token`. Parameters: the saga id. */
  readonly fencingToken: string;
  /** The locking write's header update. Parameters: a planned write's `values`, the saga id, the token. */
  readonly updateHeader: string;
  /**
   * Takes a free lease, raising the token. Parameters: the owner, the lease's expiry, now, the saga
   * id, now.
   */
  readonly takeLease: string;
  /**
   * Takes the lease of a claim candidate by compare-and-set on the token it was read with, and
   * returns the new token. Parameters: the owner, the expiry, now, the saga id, the token read, now.
   */
  readonly claimCandidate: string;
  /** Parameters: the new expiry, the saga id, the token. */
  readonly renewLease: string;
  /** Parameters: the saga id, the token. */
  readonly releaseLease: string;
  /** Parameters: see {@link SagaLogSql.quarantineParams}. */
  readonly quarantine: string;
  readonly #dialect: SqlDialect;
  readonly #tables: SagaLogTableNames;

  constructor(dialect: SqlDialect, tables: SagaLogTableNames) {
    this.#dialect = dialect;
    this.#tables = tables;
    const p = (index: number) => dialect.placeholder(index);
    const { sagas, entries } = tables;
    this.selectRow = `SELECT * FROM ${sagas} WHERE saga_id = ${p(1)}`;
    this.selectEntries = `SELECT seq, body FROM ${entries} WHERE saga_id = ${p(1)} ORDER BY seq`;
    this.exists = `SELECT 1 AS found FROM ${sagas} WHERE saga_id = ${p(1)}`;
    this.fencingToken = `SELECT fencing_token FROM ${sagas} WHERE saga_id = ${p(1)}`;
    // The header's columns but `saga_id` take the placeholders from 1.
    const afterHeader = HEADER_COLUMNS.length;
    this.updateHeader = `UPDATE ${sagas} SET ${headerAssignments(dialect, 1)} WHERE saga_id = ${p(afterHeader)} AND fencing_token = ${p(afterHeader + 1)}`;
    const lease = `UPDATE ${sagas} SET fencing_token = fencing_token + 1, lease_owner = ${p(1)}, lease_expires_at = ${p(2)}, updated_at = ${p(3)}`;
    this.takeLease = `${lease}
       WHERE saga_id = ${p(4)} AND ${leaseIsFree(p(5))}`;
    this.claimCandidate = `${lease}
         WHERE saga_id = ${p(4)} AND fencing_token = ${p(5)} AND ${leaseIsFree(p(6))} RETURNING fencing_token`;
    this.renewLease = `UPDATE ${sagas} SET lease_expires_at = ${p(1)}
       WHERE saga_id = ${p(2)} AND fencing_token = ${p(3)} AND lease_owner IS NOT NULL`;
    this.releaseLease = `UPDATE ${sagas} SET lease_owner = NULL, lease_expires_at = NULL
       WHERE saga_id = ${p(1)} AND fencing_token = ${p(2)}`;
    this.quarantine = `UPDATE ${sagas} SET status = 'quarantined', updated_at = ${p(1)}, problem_field = ${p(2)}, problem_message = ${p(3)}, quarantined_at = ${p(4)}
       WHERE saga_id = ${p(5)}`;
  }

  /** The parameters of {@link SagaLogSql.quarantine}. */
  quarantineParams(
    sagaId: string,
    problem: { readonly field: string; readonly message: string },
    now: number,
  ): unknown[] {
    return [now, String(problem.field), String(problem.message), now, sagaId];
  }

  /** The `list` query for `filter` (`listStatement`); `undefined` when the filter admits no saga. */
  list(filter: SagaFilter): Statement | undefined {
    return listStatement(this.#dialect, this.#tables.sagas, filter);
  }

  /** Inserts `entries` of one saga in one statement; `undefined` when there are none. */
  insertEntries(sagaId: string, entries: readonly StepEntry[]): Statement | undefined {
    if (entries.length === 0) return undefined;
    const rows: string[] = [];
    const params: unknown[] = [];
    for (const entry of entries) {
      params.push(sagaId, entry.seq, JSON.stringify(entry));
      const at = params.length;
      rows.push(
        `(${this.#dialect.placeholder(at - 2)}, ${this.#dialect.placeholder(at - 1)}, ${this.#dialect.placeholder(at)})`,
      );
    }
    return {
      sql: `INSERT INTO ${this.#tables.entries} (saga_id, seq, body) VALUES ${rows.join(", ")}`,
      params,
    };
  }

  /**
   * Selects up to `limit` sagas due for recovery at `now` whose lease is free (of the names given,
   * if any), in claim order: `columns` of each, with `suffix` after the statement (a row lock).
   */
  claimCandidates(
    now: number,
    limit: number,
    names: readonly string[] | undefined,
    columns: string,
    suffix = "",
  ): Statement {
    const dialect = this.#dialect;
    const params: unknown[] = [];
    params.push(now, now);
    const due = dialect.placeholder(params.length - 1);
    const free = leaseIsFree(dialect.placeholder(params.length));
    const byName = names === undefined ? "" : ` AND ${dialect.anyOf("name", names, params)}`;
    params.push(limit);
    return {
      sql: `SELECT ${columns} FROM ${this.#tables.sagas}
       WHERE ${RECOVERABLE_CONDITION} AND next_recovery_at <= ${due} AND ${free}${byName}
       ORDER BY next_recovery_at, saga_id LIMIT ${dialect.placeholder(params.length)}${suffix}`,
      params,
    };
  }

  /**
   * Deletes the sagas of `statuses` last updated before `before`, entries first; `undefined` when
   * none can match. Both statements take the same parameters.
   */
  prune(
    before: number,
    statuses: readonly SagaStatus[],
  ): { readonly entries: string; readonly sagas: string; readonly params: unknown[] } | undefined {
    if (statuses.length === 0) return undefined;
    const params: unknown[] = [];
    const terminal = `${this.#dialect.anyOf("status", statuses, params)} AND updated_at < ${this.#dialect.placeholder(params.length + 1)}`;
    params.push(before);
    const { sagas, entries } = this.#tables;
    return {
      entries: `DELETE FROM ${entries} WHERE saga_id IN (SELECT saga_id FROM ${sagas} WHERE ${terminal})`,
      sagas: `DELETE FROM ${sagas} WHERE ${terminal}`,
      params,
    };
  }
}
