import type { SqlDialect } from "../sql/sql-dialect.js";
import { classifySqliteError } from "./classify-sqlite-error.js";

/** SQLite's SQL, as the SQL core needs it. */
export const sqliteDialect: SqlDialect = Object.freeze({
  name: "SQLite",
  placeholder: () => "?",
  anyOf: (column: string, values: readonly unknown[], params: unknown[]) => {
    params.push(...values);
    return `${column} IN (${values.map(() => "?").join(", ")})`;
  },
  // The plain spellings that would end or nest a transaction behind lockstep's back.
  transactionControl: /^\s*(?:BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b/i,
  // BEGIN IMMEDIATE already holds the database's write lock.
  lockRows: "",
  savepoints: Object.freeze({
    open: (name: string) => `SAVEPOINT ${name}`,
    release: (name: string) => `RELEASE ${name}`,
    rollBack: (name: string) => `ROLLBACK TO ${name}; RELEASE ${name}`,
  }),
  classifyError: classifySqliteError,
});
