import type { SqlDialect } from "../sql/sql-dialect.js";
import { classifyMysqlError } from "./classify-mysql-error.js";

/** MySQL's and MariaDB's SQL, as the SQL core needs it. */
export const mysqlDialect: SqlDialect = Object.freeze({
  name: "MySQL",
  placeholder: () => "?",
  anyOf: (column: string, values: readonly unknown[], params: unknown[]) => {
    params.push(...values);
    return `${column} IN (${values.map(() => "?").join(", ")})`;
  },
  // Every spelling that would start, end or nest a transaction, switch autocommit back on behind
  // lockstep's back, or take a table lock that ends the transaction implicitly.
  transactionControl:
    /^\s*(?:BEGIN|START\s+TRANSACTION|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|XA|SET\s+(?:SESSION\s+|@@(?:SESSION\.)?)?AUTOCOMMIT|LOCK\s+TABLES?|UNLOCK\s+TABLES?)\b/i,
  lockRows: " FOR UPDATE",
  savepoints: Object.freeze({
    open: (name: string) => `SAVEPOINT ${name}`,
    release: (name: string) => `RELEASE SAVEPOINT ${name}`,
    // mysql2 runs one statement per call unless the pool allows several, so the savepoint is rolled
    // back to and left in place: its name is never used again in the transaction, and it ends with it.
    rollBack: (name: string) => `ROLLBACK TO SAVEPOINT ${name}`,
  }),
  classifyError: classifyMysqlError,
});
