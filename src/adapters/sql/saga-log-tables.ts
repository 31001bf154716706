import { describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import { RECOVERABLE_STATUSES } from "../../model/records.js";

/**
 * The recoverable statuses as an SQL list literal (`'running', 'compensating', 'in_doubt'`), for the
 * partial index recovery claims from and for the claim's own condition, which must state the same
 * list, as literals, for the planner to use that index.
 */
export const RECOVERABLE_STATUS_LIST = RECOVERABLE_STATUSES.map((status) => {
  if (!/^[a-z_]+$/.test(status)) throw new Error(`Unexpected saga status ${status}.`);
  return `'${status}'`;
}).join(", ");

/** The condition of a saga recovery may claim, as the recoverable index states it. */
export const RECOVERABLE_CONDITION = `status IN (${RECOVERABLE_STATUS_LIST})`;

/** The column types a dialect stores the saga log in. */
export interface SagaLogColumnTypes {
  /** Text: ids, names, statuses and JSON bodies. */
  readonly text: string;
  /** A 32-bit integer: schema versions and entry numbers. */
  readonly integer: string;
  /** A 64-bit integer: times in milliseconds, fencing tokens, counters. */
  readonly bigint: string;
  /**
   * Text that is a key or indexed: saga ids, names, statuses, lease owners. A database that cannot
   * index unbounded text (MySQL) gives a bounded type here, `VARCHAR(255)`. @default `text`
   */
  readonly key?: string;
  /** Text that may be long and is never indexed: JSON bodies, problem messages. @default `text` */
  readonly body?: string;
}

/** How a dialect places the log's indexes. */
export interface SagaLogIndexOptions {
  /**
   * Declares the sagas table's indexes inside its `CREATE TABLE` (`INDEX name (columns)`) instead
   * of in `CREATE INDEX IF NOT EXISTS` statements, which MySQL 8 lacks; `createIndexes` is then
   * empty. @default false
   */
  readonly inline?: boolean;
  /** Quotes an index name. @default double quotes: `"name"` */
  readonly quote?: (name: string) => string;
}

/**
 * The saga log's two tables, by their quoted names, and the `CREATE … IF NOT EXISTS` statements of
 * the tables and their indexes.
 */
export interface SagaLogDdl {
  /** The sagas table's quoted name. */
  readonly sagas: string;
  /** The entries table's quoted name. */
  readonly entries: string;
  /** Creates the sagas table; without a trailing `;`, so the dialect can append table options. */
  readonly createSagas: string;
  /** Creates the entries table, likewise. */
  readonly createEntries: string;
  /**
   * Creates the indexes recovery and pruning select by, and those `list` pages by (newest first,
   * by creation or by last update), each statement ended by `;`.
   */
  readonly createIndexes: string;
  /** The unquoted names of the indexes `list` pages by, which a log created before them lacks. */
  readonly listIndexes: readonly string[];
  /** The outbox table's quoted name. */
  readonly outbox: string;
  /** Creates the outbox table, likewise without a trailing `;`. */
  readonly createOutbox: string;
  /** Creates the index relays claim by, ended by `;`. */
  readonly createOutboxIndex: string;
  /** The operator events table's quoted name. */
  readonly operatorEvents: string;
  /** Creates the operator events table, likewise without a trailing `;`. */
  readonly createOperatorEvents: string;
  /** The recovery workers' status table's quoted name. */
  readonly workers: string;
  /** Creates the recovery workers' status table, likewise without a trailing `;`. */
  readonly createWorkers: string;
}

const PREFIX = /^[A-Za-z_][A-Za-z0-9_]{0,40}$/;

/** Refuses a table prefix that is not letters, digits and underscores (it is spliced into SQL). */
export function assertTablePrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== "string" || !PREFIX.test(prefix)) {
    throw new LockstepDefinitionError(
      `Expected \`tablePrefix\` to be letters, digits and underscores starting with a letter or underscore (at most 41 characters), got ${describeValue(prefix)}.`,
    );
  }
}

/**
 * The indexes `list` pages by (keyset paging newest first, by status or name; a page of every
 * status merges one page per status, read from these and from `sagas_updated`).
 */
const LIST_INDEXES: readonly (readonly [string, string])[] = [
  ["sagas_by_status", "status, created_at, saga_id"],
  ["sagas_by_name", "name, created_at, saga_id"],
];

/**
 * The saga log's tables, `<prefix>sagas` and `<prefix>saga_entries` (quoted and qualified by
 * `qualify`), and its indexes, `<prefix>sagas_…`, after checking `prefix`. Columns hold what recovery selects and leases by, so those
 * statements never parse a JSON body; `record` holds the full header as JSON text. Lease and status
 * columns are authoritative: lease operations and quarantine update only them, and reads lay them
 * over the JSON body. `problem_*` keep why a saga was quarantined, beside its body as it was.
 * Entries go with their saga (`ON DELETE CASCADE`). `<prefix>saga_outbox` holds the messages steps
 * published; `<prefix>operator_events` what operators did to the log as a whole (a prune), one JSON
 * body each; `<prefix>recovery_workers` each recovery worker's last status report (added later:
 * created like the others, `IF NOT EXISTS`, so an older log gains them when it is next opened).
 */
export function sagaLogDdl(
  types: SagaLogColumnTypes,
  prefix: string,
  qualify: (name: string) => string,
  indexOptions: SagaLogIndexOptions = {},
): SagaLogDdl {
  assertTablePrefix(prefix);
  const { text, integer, bigint } = types;
  const key = types.key ?? text;
  const body = types.body ?? text;
  const sagas = qualify(`${prefix}sagas`);
  const entries = qualify(`${prefix}saga_entries`);
  const quote = indexOptions.quote ?? ((name: string) => `"${name}"`);
  const inline = indexOptions.inline === true;
  // Where the dialect has partial indexes, the recoverable index holds only the sagas recovery may
  // claim: a saga that ends in the transaction that creates it (a co-committed saga) writes no entry.
  const indexes: [name: string, columns: string, where?: string][] = [
    [quote(`${prefix}sagas_recoverable`), "status, next_recovery_at", RECOVERABLE_CONDITION],
    [quote(`${prefix}sagas_updated`), "status, updated_at, saga_id"],
    ...LIST_INDEXES.map(([name, columns]): [string, string] => [
      quote(`${prefix}${name}`),
      columns,
    ]),
  ];
  const outbox = qualify(`${prefix}saga_outbox`);
  // Few rows (one per prune, one per worker), read newest first: no index beyond the key.
  const bodyTable = (
    table: string,
    id: string,
    time: string,
  ) => `CREATE TABLE IF NOT EXISTS ${table} (
  ${id} ${key} NOT NULL PRIMARY KEY,
  ${time} ${bigint} NOT NULL,
  body ${body} NOT NULL
)`;
  const operatorEvents = qualify(`${prefix}operator_events`);
  const workers = qualify(`${prefix}recovery_workers`);
  return {
    sagas,
    entries,
    outbox,
    operatorEvents,
    createOperatorEvents: bodyTable(operatorEvents, "event_id", "at"),
    workers,
    createWorkers: bodyTable(workers, "worker_id", "heartbeat_at"),
    createOutbox: `CREATE TABLE IF NOT EXISTS ${outbox} (
  message_id ${text} NOT NULL PRIMARY KEY,
  saga_id ${text} NOT NULL,
  step ${text} NOT NULL,
  idx ${integer} NOT NULL,
  topic ${text} NOT NULL,
  body ${text} NOT NULL,
  status ${text} NOT NULL,
  attempts ${bigint} NOT NULL,
  next_at ${bigint} NOT NULL,
  token ${bigint} NOT NULL,
  lease_owner ${text},
  lease_expires_at ${bigint},
  last_error ${text},
  created_at ${bigint} NOT NULL,
  delivered_at ${bigint}
)`,
    createOutboxIndex: `CREATE INDEX IF NOT EXISTS "${prefix}saga_outbox_due" ON ${outbox} (status, next_at);
CREATE INDEX IF NOT EXISTS "${prefix}saga_outbox_saga" ON ${outbox} (saga_id);`,
    createSagas: `CREATE TABLE IF NOT EXISTS ${sagas} (
  saga_id ${key} NOT NULL PRIMARY KEY,
  name ${key} NOT NULL,
  definition_version ${bigint} NOT NULL,
  status ${key} NOT NULL,
  fencing_token ${bigint} NOT NULL,
  lease_owner ${key},
  lease_expires_at ${bigint},
  recovery_attempts ${bigint} NOT NULL,
  next_recovery_at ${bigint} NOT NULL,
  created_at ${bigint} NOT NULL,
  updated_at ${bigint} NOT NULL,
  schema_version ${integer} NOT NULL,
  record ${body} NOT NULL,
  problem_field ${body},
  problem_message ${body},
  quarantined_at ${bigint}${inline ? indexes.map(([name, columns]) => `,\n  INDEX ${name} (${columns})`).join("") : ""}
)`,
    createIndexes: inline
      ? ""
      : indexes
          .map(
            ([name, columns, where]) =>
              `CREATE INDEX IF NOT EXISTS ${name} ON ${sagas} (${columns})${where === undefined ? "" : ` WHERE ${where}`};`,
          )
          .join("\n"),
    listIndexes: LIST_INDEXES.map(([name]) => `${prefix}${name}`),
    createEntries: `CREATE TABLE IF NOT EXISTS ${entries} (
  saga_id ${key} NOT NULL REFERENCES ${sagas} (saga_id) ON DELETE CASCADE,
  seq ${integer} NOT NULL,
  body ${body} NOT NULL,
  PRIMARY KEY (saga_id, seq)
)`,
  };
}
