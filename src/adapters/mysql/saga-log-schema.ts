import { describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import { type SagaLogColumnTypes, sagaLogDdl } from "../sql/saga-log-tables.js";

/** The quoted names of one saga log's tables, and the DDL that creates them. */
export interface MysqlSagaLogTables {
  /** The database the tables live in, or `undefined` for the connection's current database. */
  readonly database: string | undefined;
  readonly sagas: string;
  readonly entries: string;
  readonly operatorEvents: string;
  readonly workers: string;
  /** The tables' bare names, to look them up in `information_schema.TABLES`. */
  readonly names: readonly string[];
  /** Names the `GET_LOCK` lock that serializes the DDL across processes. */
  readonly lockKey: string;
  /** The statements that create the tables, one per element (mysql2 runs one per call). */
  readonly ddl: readonly string[];
}

const DATABASE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const TYPES: SagaLogColumnTypes = {
  text: "TEXT",
  integer: "INT",
  bigint: "BIGINT",
  // utf8mb4 at 4 bytes a character: 255 characters stay within InnoDB's 3072-byte index keys.
  key: "VARCHAR(255)",
  body: "LONGTEXT",
};

// Binary collation: saga ids and names compare exactly, as in every other log.
const TABLE_OPTIONS = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

/**
 * The saga log's tables in `database` (or the connection's own database), each name starting with
 * `prefix`. `record` holds the full header as JSON text (`LONGTEXT`, not `JSON`, which MySQL would
 * normalize). The indexes are declared inside `CREATE TABLE`, since MySQL 8 has no
 * `CREATE INDEX IF NOT EXISTS`. Entries name their saga with a foreign key, but the log deletes
 * them itself, since MySQL ignores a `REFERENCES` written on a column.
 */
export function mysqlSagaLogTables(
  database: string | undefined,
  prefix: string,
): MysqlSagaLogTables {
  if (database !== undefined && (typeof database !== "string" || !DATABASE.test(database))) {
    throw new LockstepDefinitionError(
      `Expected \`database\` to be letters, digits and underscores starting with a letter or underscore (at most 64 characters), got ${describeValue(database)}.`,
    );
  }
  const q = (name: string) =>
    database === undefined ? `\`${name}\`` : `\`${database}\`.\`${name}\``;
  const ddl = sagaLogDdl(TYPES, prefix, q, { inline: true, quote: (name) => `\`${name}\`` });
  return {
    database,
    sagas: ddl.sagas,
    entries: ddl.entries,
    operatorEvents: ddl.operatorEvents,
    workers: ddl.workers,
    names: [
      `${prefix}sagas`,
      `${prefix}saga_entries`,
      `${prefix}operator_events`,
      `${prefix}recovery_workers`,
    ],
    lockKey: `lockstep.saga-log:${database ?? ""}.${prefix}`,
    ddl: [ddl.createSagas, ddl.createEntries, ddl.createOperatorEvents, ddl.createWorkers].map(
      (statement) => `${statement}${TABLE_OPTIONS}`,
    ),
  };
}
