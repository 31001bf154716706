import { describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import { RECOVERABLE_STATUSES } from "../../model/records.js";

/**
 * The recoverable statuses as an SQL list literal (`'running', 'compensating', 'in_doubt'`), for the
 * partial index recovery claims from and for the claim's own condition, which must state the same
 * list for the planner to use that index.
 */
export const RECOVERABLE_STATUS_LIST = RECOVERABLE_STATUSES.map((status) => {
  if (!/^[a-z_]+$/.test(status)) throw new Error(`Unexpected saga status ${status}.`);
  return `'${status}'`;
}).join(", ");

/** The quoted, schema-qualified names of one saga log's tables, and the DDL that creates them. */
export interface SagaLogTables {
  readonly schema: string;
  readonly sagas: string;
  readonly entries: string;
  /** The `to_regclass` names of every table and index, to see whether the DDL must run at all. */
  readonly objects: readonly string[];
  /** Names the advisory lock that serializes the DDL across processes. */
  readonly lockKey: string;
  readonly ddl: string;
}

const SCHEMA = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const PREFIX = /^[A-Za-z_][A-Za-z0-9_]{0,40}$/;

/**
 * The saga log's tables in `schema`, each name starting with `prefix`. Columns hold what recovery
 * selects and leases by, so those statements never parse a JSON body; `record` holds the full header
 * as JSON text (not `jsonb`, which would refuse some strings JSON allows, such as `"\u0000"`, and
 * would not keep the body exactly as validated). Lease and status columns are authoritative: lease
 * operations and quarantine update only them, and reads lay them over the JSON body. `problem_*`
 * keep why a saga was quarantined, beside its body as it was. `sagas_due` holds only the sagas
 * in a recoverable status, in the order recovery claims them, so a claim reads them in that order
 * and stops once it has enough, however many finished sagas the table keeps.
 */
export function sagaLogTables(schema: string, prefix: string): SagaLogTables {
  if (typeof schema !== "string" || !SCHEMA.test(schema)) {
    throw new LockstepDefinitionError(
      `Expected \`schema\` to be letters, digits and underscores starting with a letter or underscore (at most 63 characters), got ${describeValue(schema)}.`,
    );
  }
  if (typeof prefix !== "string" || !PREFIX.test(prefix)) {
    throw new LockstepDefinitionError(
      `Expected \`tablePrefix\` to be letters, digits and underscores starting with a letter or underscore (at most 41 characters), got ${describeValue(prefix)}.`,
    );
  }
  const q = (name: string) => `"${schema}"."${name}"`;
  const sagas = q(`${prefix}sagas`);
  const entries = q(`${prefix}saga_entries`);
  const recoverable = `${prefix}sagas_recoverable`;
  const updated = `${prefix}sagas_updated`;
  const due = `${prefix}sagas_due`;
  const ddl = `
CREATE TABLE IF NOT EXISTS ${sagas} (
  saga_id text NOT NULL PRIMARY KEY,
  name text NOT NULL,
  definition_version bigint NOT NULL,
  status text NOT NULL,
  fencing_token bigint NOT NULL,
  lease_owner text,
  lease_expires_at bigint,
  recovery_attempts bigint NOT NULL,
  next_recovery_at bigint NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  schema_version integer NOT NULL,
  record text NOT NULL,
  problem_field text,
  problem_message text,
  quarantined_at bigint
);
CREATE INDEX IF NOT EXISTS "${recoverable}" ON ${sagas} (status, next_recovery_at);
CREATE INDEX IF NOT EXISTS "${updated}" ON ${sagas} (status, updated_at);
CREATE INDEX IF NOT EXISTS "${due}" ON ${sagas} (next_recovery_at, saga_id)
  WHERE status IN (${RECOVERABLE_STATUS_LIST});
CREATE TABLE IF NOT EXISTS ${entries} (
  saga_id text NOT NULL REFERENCES ${sagas} (saga_id) ON DELETE CASCADE,
  seq integer NOT NULL,
  body text NOT NULL,
  PRIMARY KEY (saga_id, seq)
);
`;
  return {
    schema,
    sagas,
    entries,
    objects: [sagas, entries, q(recoverable), q(updated), q(due)],
    lockKey: `lockstep.saga-log:${schema}.${prefix}`,
    ddl,
  };
}
