import { type SagaLogColumnTypes, sagaLogDdl } from "../sql/saga-log-tables.js";

/** The quoted table names of one saga log, and the DDL that creates them. */
export interface SagaLogTables {
  readonly sagas: string;
  readonly entries: string;
  readonly outbox: string;
  readonly operatorEvents: string;
  readonly workers: string;
  readonly ddl: string;
}

const TYPES: SagaLogColumnTypes = { text: "TEXT", integer: "INTEGER", bigint: "INTEGER" };

/** The saga log's tables for a prefix, `STRICT`, the entries clustered by saga (`WITHOUT ROWID`). */
export function sagaLogTables(prefix: string): SagaLogTables {
  const schema = sagaLogDdl(TYPES, prefix, (name) => `"${name}"`);
  const ddl = `
${schema.createSagas} STRICT;
${schema.createIndexes}
${schema.createEntries} STRICT, WITHOUT ROWID;
${schema.createOutbox} STRICT;
${schema.createOutboxIndex}
${schema.createOperatorEvents} STRICT;
${schema.createWorkers} STRICT;
`;
  const { sagas, entries, outbox, operatorEvents, workers } = schema;
  return { sagas, entries, outbox, operatorEvents, workers, ddl };
}
