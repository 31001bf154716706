/** One SQL statement and its positional (`?`) parameters. */
export interface SqlStatement {
  /** One SQL statement. */
  readonly sql: string;
  /** Its positional parameters. @default [] */
  readonly params?: readonly unknown[];
}

/** What one statement of a batch (or a single statement) came to. */
export interface StatementResult {
  /** The rows it returned (`SELECT`, or `RETURNING`); empty for a write without `RETURNING`. */
  readonly rows: readonly Record<string, unknown>[];
  /** How many rows it inserted, updated or deleted. */
  readonly changes: number;
  /** The rowid of the last row it inserted, when the driver reports one. */
  readonly lastRowId: number | undefined;
}

/**
 * A check inside a batch: a statement of lockstep's own that fails, and so makes the whole batch
 * apply nothing, unless its condition holds when the batch reaches it.
 *
 * - `"changed"`: the statement just before it changed at least one row (a guarded write won);
 * - `"exists"`: `sql`, a query, returns at least one row (a fencing token is still current);
 * - `"inserted"`: `sql`, a plain `INSERT` (no `ON CONFLICT`), is its own check: it fails on the
 *   unique key `key` when a row holds that key already (a saga id is taken). It is sent as it is,
 *   and its result is not returned.
 *
 * `lost`, when given, says what the batch fails with when the check does not hold (it may read the
 * database again to tell why); without it, the batch's caller decides.
 */
export type BatchCheck =
  | { readonly check: "changed"; readonly lost?: () => Promise<Error> }
  | {
      readonly check: "exists";
      readonly sql: string;
      readonly params?: readonly unknown[];
      readonly lost?: () => Promise<Error>;
    }
  | {
      readonly check: "inserted";
      readonly sql: string;
      readonly params?: readonly unknown[];
      /** The unique key as SQLite names it in a constraint error: `table.column`, unquoted. */
      readonly key: string;
      readonly lost?: () => Promise<Error>;
    };

/** One item of a guarded batch: a statement, or a check of the state the statements before it left. */
export type BatchItem = SqlStatement | BatchCheck;

/** Whether a batch item is a check. */
export function isCheck(item: BatchItem): item is BatchCheck {
  return "check" in item;
}

/**
 * How the saga log and the batch stores reach a SQLite-flavoured database that applies batches
 * all-or-nothing (D1, libSQL): single statements at once, and batches of statements with checks.
 * A batch resolves with one result per statement (checks give none), or rejects having applied
 * nothing.
 */
export interface BatchSql {
  /** Runs one statement and returns its rows. */
  all<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs one statement. */
  run(sql: string, params?: readonly unknown[]): Promise<StatementResult>;
  /** Applies `items` all-or-nothing; see {@link BatchItem}. */
  batch(items: readonly BatchItem[]): Promise<StatementResult[]>;
}
