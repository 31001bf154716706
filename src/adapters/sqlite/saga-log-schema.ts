import { describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";

/** The quoted table names of one saga log, and the DDL that creates them. */
export interface SagaLogTables {
  readonly sagas: string;
  readonly entries: string;
  readonly ddl: string;
}

const PREFIX = /^[A-Za-z_][A-Za-z0-9_]{0,40}$/;

/**
 * The saga log's tables for a prefix. Columns hold what recovery selects and leases by, so those
 * statements never parse a JSON body; `record` holds the full header as JSON. Lease and status
 * columns are authoritative: lease operations and quarantine update only them, and reads lay them
 * over the JSON body. `problem_*` keep why a saga was quarantined, beside its body as it was.
 */
export function sagaLogTables(prefix: string): SagaLogTables {
  if (typeof prefix !== "string" || !PREFIX.test(prefix)) {
    throw new LockstepDefinitionError(
      `Expected \`tablePrefix\` to be letters, digits and underscores starting with a letter or underscore (at most 41 characters), got ${describeValue(prefix)}.`,
    );
  }
  const sagas = `"${prefix}sagas"`;
  const entries = `"${prefix}saga_entries"`;
  const ddl = `
CREATE TABLE IF NOT EXISTS ${sagas} (
  saga_id TEXT NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  definition_version INTEGER NOT NULL,
  status TEXT NOT NULL,
  fencing_token INTEGER NOT NULL,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  recovery_attempts INTEGER NOT NULL,
  next_recovery_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  schema_version INTEGER NOT NULL,
  record TEXT NOT NULL,
  problem_field TEXT,
  problem_message TEXT,
  quarantined_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS "${prefix}sagas_recoverable" ON ${sagas} (status, next_recovery_at);
CREATE INDEX IF NOT EXISTS "${prefix}sagas_updated" ON ${sagas} (status, updated_at);
CREATE TABLE IF NOT EXISTS ${entries} (
  saga_id TEXT NOT NULL REFERENCES ${sagas} (saga_id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (saga_id, seq)
) STRICT, WITHOUT ROWID;
`;
  return { sagas, entries, ddl };
}
