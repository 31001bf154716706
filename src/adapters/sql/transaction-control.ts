import { StoreError } from "../../core/error-kinds.js";
import type { SqlDialect } from "./sql-dialect.js";

/**
 * Refuses a statement that is not a string, or that would start or end a transaction outside
 * lockstep's control (`dialect.transactionControl`): on a root handle it would leave a connection
 * inside a transaction that someone else then joins, on a transaction handle it would end the
 * transaction behind lockstep's back. Every handle runs it on every statement, before sending it.
 */
export function refuseTransactionControl(dialect: SqlDialect, sql: string): void {
  if (typeof sql !== "string") {
    throw new StoreError(
      "not_committed",
      `Expected the statement to be a string, got ${typeof sql}; nothing was sent.`,
    );
  }
  if (dialect.transactionControl.test(sql)) {
    throw new StoreError(
      "not_committed",
      `Transaction control statements cannot run through a lockstep ${dialect.name} handle, got ${JSON.stringify(sql.trim().slice(0, 40))}; use store.transaction(...) and tx.savepoint(...) instead.`,
    );
  }
}
