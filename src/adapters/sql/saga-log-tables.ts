import { describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";

/** The column types a dialect stores the saga log in. */
export interface SagaLogColumnTypes {
  /** Text: ids, names, statuses and JSON bodies. */
  readonly text: string;
  /** A 32-bit integer: schema versions and entry numbers. */
  readonly integer: string;
  /** A 64-bit integer: times in milliseconds, fencing tokens, counters. */
  readonly bigint: string;
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
  /** Creates the indexes recovery and pruning select by, each statement ended by `;`. */
  readonly createIndexes: string;
  /** The outbox table's quoted name. */
  readonly outbox: string;
  /** Creates the outbox table, likewise without a trailing `;`. */
  readonly createOutbox: string;
  /** Creates the index relays claim by, ended by `;`. */
  readonly createOutboxIndex: string;
}

const PREFIX = /^[A-Za-z_][A-Za-z0-9_]{0,40}$/;

/** Refuses a table prefix that is not letters, digits and underscores (it is spliced into SQL). */
function assertTablePrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== "string" || !PREFIX.test(prefix)) {
    throw new LockstepDefinitionError(
      `Expected \`tablePrefix\` to be letters, digits and underscores starting with a letter or underscore (at most 41 characters), got ${describeValue(prefix)}.`,
    );
  }
}

/**
 * The saga log's tables, `<prefix>sagas` and `<prefix>saga_entries` (quoted and qualified by
 * `qualify`), and its indexes, `<prefix>sagas_…`, after checking `prefix`. Columns hold what recovery selects and leases by, so those
 * statements never parse a JSON body; `record` holds the full header as JSON text. Lease and status
 * columns are authoritative: lease operations and quarantine update only them, and reads lay them
 * over the JSON body. `problem_*` keep why a saga was quarantined, beside its body as it was.
 * Entries go with their saga (`ON DELETE CASCADE`). `<prefix>saga_outbox` holds the messages steps
 * published (added later: created like the others, `IF NOT EXISTS`, so an older log gains it).
 */
export function sagaLogDdl(
  types: SagaLogColumnTypes,
  prefix: string,
  qualify: (name: string) => string,
): SagaLogDdl {
  assertTablePrefix(prefix);
  const { text, integer, bigint } = types;
  const sagas = qualify(`${prefix}sagas`);
  const entries = qualify(`${prefix}saga_entries`);
  const outbox = qualify(`${prefix}saga_outbox`);
  return {
    sagas,
    entries,
    outbox,
    // Messages outlive their saga's pruning until delivered, so they do not reference it.
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
  saga_id ${text} NOT NULL PRIMARY KEY,
  name ${text} NOT NULL,
  definition_version ${bigint} NOT NULL,
  status ${text} NOT NULL,
  fencing_token ${bigint} NOT NULL,
  lease_owner ${text},
  lease_expires_at ${bigint},
  recovery_attempts ${bigint} NOT NULL,
  next_recovery_at ${bigint} NOT NULL,
  created_at ${bigint} NOT NULL,
  updated_at ${bigint} NOT NULL,
  schema_version ${integer} NOT NULL,
  record ${text} NOT NULL,
  problem_field ${text},
  problem_message ${text},
  quarantined_at ${bigint}
)`,
    createIndexes: `CREATE INDEX IF NOT EXISTS "${prefix}sagas_recoverable" ON ${sagas} (status, next_recovery_at);
CREATE INDEX IF NOT EXISTS "${prefix}sagas_updated" ON ${sagas} (status, updated_at);`,
    createEntries: `CREATE TABLE IF NOT EXISTS ${entries} (
  saga_id ${text} NOT NULL REFERENCES ${sagas} (saga_id) ON DELETE CASCADE,
  seq ${integer} NOT NULL,
  body ${text} NOT NULL,
  PRIMARY KEY (saga_id, seq)
)`,
  };
}
