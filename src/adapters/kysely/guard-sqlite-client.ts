import { StoreError } from "../../core/error-kinds.js";
import type { BetterSqliteClient } from "../sqlite/database-of-client.js";
import { ownTransactionOn } from "../sqlite/sqlite-transaction.js";
import type { WriteGate } from "../sqlite/write-gate.js";

const GUARDED_KEY = Symbol.for("lockstep.kysely.guarded-client");

/**
 * Makes a write through the user's own better-sqlite3 client (what their Kysely `db` runs on) fail
 * at once, as a `transient` error, while a lockstep transaction holds the file's write gate,
 * instead of waiting inside SQLite's `busy_timeout` — which blocks the event loop the open
 * transaction needs to finish, and fails with `SQLITE_BUSY` anyway. Kysely's SQLite connection runs
 * each statement synchronously, so its writes cannot be queued behind the transaction; the store's
 * own handle can, and does. Reads are left alone: under WAL they never wait.
 */
export function guardSqliteClient(client: unknown, gate: WriteGate, storeId: string): void {
  const target = client as BetterSqliteClient & Record<symbol, unknown>;
  if (target[GUARDED_KEY] === true) return;
  const prepare = target.prepare;
  Object.defineProperties(target, {
    prepare: {
      value: function guardedPrepare(this: BetterSqliteClient, sql: string) {
        const statement = prepare.call(this, sql);
        if (statement.readonly) return statement;
        if (ownTransactionOn(gate) !== undefined) {
          throw new StoreError(
            "not_committed",
            `A write through the Kysely database was made inside a lockstep transaction on "${storeId}" and would wait for that transaction forever; write through the transaction lockstep handed the step instead.`,
          );
        }
        if (gate.busy) {
          throw new StoreError(
            "transient",
            `A lockstep transaction on "${storeId}" holds the database's write lock, so this write through the Kysely database was refused rather than left blocking the event loop; nothing was written. Retry it, or write through the store's handle, which waits for the transaction.`,
          );
        }
        return statement;
      },
      configurable: true,
      writable: true,
    },
    [GUARDED_KEY]: { value: true },
  });
}
