import type { SqlDialect } from "../sql/sql-dialect.js";
import { classifyPostgresError } from "./classify-postgres-error.js";

/** Postgres's SQL, as the SQL core needs it. */
export const postgresDialect: SqlDialect = Object.freeze({
  name: "Postgres",
  placeholder: (index: number) => `$${index}`,
  anyOf: (column: string, values: readonly unknown[], params: unknown[]) => {
    params.push([...values]);
    return `${column} = ANY($${params.length}::text[])`;
  },
  // Every spelling that would start, end or nest a transaction, or leave a pooled connection inside one.
  transactionControl:
    /^\s*(?:BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|PREPARE\s+TRANSACTION)\b/i,
  lockRows: " FOR UPDATE",
  savepoints: Object.freeze({
    open: (name: string) => `SAVEPOINT ${name}`,
    release: (name: string) => `RELEASE SAVEPOINT ${name}`,
    rollBack: (name: string) => `ROLLBACK TO SAVEPOINT ${name}; RELEASE SAVEPOINT ${name}`,
  }),
  classifyError: classifyPostgresError,
});
