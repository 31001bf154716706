import { describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import {
  RECOVERABLE_STATUS_LIST,
  type SagaLogColumnTypes,
  sagaLogDdl,
} from "../sql/saga-log-tables.js";

/** The quoted, schema-qualified names of one saga log's tables, and the DDL that creates them. */
export interface SagaLogTables {
  readonly schema: string;
  readonly sagas: string;
  readonly entries: string;
  readonly outbox: string;
  readonly operatorEvents: string;
  readonly workers: string;
  /** The `to_regclass` names of every table and index, to see whether the DDL must run at all. */
  readonly objects: readonly string[];
  /** Names the advisory lock that serializes the DDL across processes. */
  readonly lockKey: string;
  readonly ddl: string;
}

const SCHEMA = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const TYPES: SagaLogColumnTypes = { text: "text", integer: "integer", bigint: "bigint" };

/**
 * The saga log's tables in `schema`, each name starting with `prefix`. `record` holds the full
 * header as JSON text (not `jsonb`, which would refuse some strings JSON allows, such as `"\u0000"`,
 * and would not keep the body exactly as validated). `sagas_due` holds only the sagas in a
 * recoverable status, in the order recovery claims them, so a claim reads them in that order and
 * stops once it has enough, however many finished sagas the table keeps.
 */
export function sagaLogTables(schema: string, prefix: string): SagaLogTables {
  if (typeof schema !== "string" || !SCHEMA.test(schema)) {
    throw new LockstepDefinitionError(
      `Expected \`schema\` to be letters, digits and underscores starting with a letter or underscore (at most 63 characters), got ${describeValue(schema)}.`,
    );
  }
  const q = (name: string) => `"${schema}"."${name}"`;
  const shape = sagaLogDdl(TYPES, prefix, q);
  const { sagas, entries, outbox, createSagas, createIndexes, createEntries, listIndexes } = shape;
  const due = `${prefix}sagas_due`;
  return {
    schema,
    sagas,
    entries,
    outbox,
    operatorEvents: shape.operatorEvents,
    workers: shape.workers,
    objects: [
      sagas,
      entries,
      q(`${prefix}sagas_recoverable`),
      q(`${prefix}sagas_updated`),
      ...listIndexes.map(q),
      q(due),
      outbox,
      q(`${prefix}saga_outbox_due`),
      q(`${prefix}saga_outbox_saga`),
      shape.operatorEvents,
      shape.workers,
    ],
    lockKey: `lockstep.saga-log:${schema}.${prefix}`,
    ddl: `
${createSagas};
${createIndexes}
CREATE INDEX IF NOT EXISTS "${due}" ON ${sagas} (next_recovery_at, saga_id)
  WHERE status IN (${RECOVERABLE_STATUS_LIST});
${createEntries};
${shape.createOutbox};
${shape.createOutboxIndex}
${shape.createOperatorEvents};
${shape.createWorkers};
`,
  };
}
