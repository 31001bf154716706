import { StoreError } from "../../core/error-kinds.js";
import { ownTransactionOn } from "../sqlite/sqlite-transaction.js";
import type { WriteGate } from "../sqlite/write-gate.js";
import type { DrizzleSession } from "./drizzle-dialect.js";

/** What a Drizzle better-sqlite3 prepared query exposes: its statement and how it runs. */
interface PreparedQuery {
  readonly stmt?: { readonly readonly?: boolean };
  run(...args: unknown[]): unknown;
  all(...args: unknown[]): unknown;
  get(...args: unknown[]): unknown;
  values(...args: unknown[]): unknown;
}

const RUNS = ["run", "all", "get", "values"] as const;

// Sessions already guarded, shared by the ESM and CJS copies of lockstep.
const GUARDED_KEY = Symbol.for("lockstep.drizzle.guarded-session");

/**
 * Puts the writes of a user's Drizzle better-sqlite3 database behind the file's write gate, so a
 * write through `db` while a lockstep transaction is open on the file waits for it instead of
 * waiting inside SQLite's `busy_timeout` (which blocks the event loop the transaction needs) or
 * joining it. Reads are left alone: under WAL they never wait and see only committed data.
 *
 * A write runs at once, synchronously as Drizzle's better-sqlite3 queries do, whenever no
 * transaction holds the gate. While one does, the write is queued behind it and its call returns a
 * promise of its result: `await db.insert(…)` waits and then resolves as usual, while synchronous
 * use of the result (`db.insert(…).run().changes`) throws an `unknown` `StoreError` saying to await
 * it. A write from inside the lockstep transaction itself would wait for itself and is refused.
 * `db.transaction(syncWork)` runs at once when the gate is free and is refused while it is not,
 * because its callback cannot wait.
 */
export function guardSqliteDb(session: DrizzleSession, gate: WriteGate, storeId: string): void {
  const holder = session as unknown as Record<symbol, unknown>;
  if (holder[GUARDED_KEY] === true) return;
  const proto = Object.getPrototypeOf(session) as DrizzleSession;
  const prepareQuery = proto.prepareQuery;
  const transaction = proto.transaction;
  // How many guarded calls are running synchronously: their own nested calls (`all` runs
  // `values`) and the statements of `db.transaction`'s callback run straight through.
  let depth = 0;
  const through = <T>(run: () => T): T => {
    depth++;
    try {
      return run();
    } finally {
      depth--;
    }
  };
  const refuseInsideOwn = (what: string) => {
    if (ownTransactionOn(gate) === undefined) return;
    throw new StoreError(
      "not_committed",
      `${what} through the Drizzle database was called inside a lockstep transaction on "${storeId}" and would wait for that transaction forever; write through the transaction object lockstep handed the step instead.`,
    );
  };
  const guard = (prepared: PreparedQuery): PreparedQuery => {
    if (prepared.stmt?.readonly === true) return prepared;
    for (const name of RUNS) {
      const run = prepared[name];
      prepared[name] = function guarded(this: PreparedQuery, ...args: unknown[]) {
        if (depth > 0) return run.apply(this, args);
        refuseInsideOwn("A write");
        if (!gate.busy) return through(() => run.apply(this, args));
        return queued(
          gate.acquire().then((release) => {
            try {
              return through(() => run.apply(this, args));
            } finally {
              release();
            }
          }),
          storeId,
        );
      };
    }
    return prepared;
  };
  Object.defineProperties(session, {
    prepareQuery: {
      value: function guardedPrepare(this: DrizzleSession, ...args: unknown[]) {
        return guard(prepareQuery.apply(this, args) as PreparedQuery);
      },
    },
    transaction: {
      value: function guardedTransaction(
        this: DrizzleSession,
        work: (tx: object) => unknown,
        config?: unknown,
      ) {
        if (depth > 0) return transaction.call(this, work, config);
        refuseInsideOwn("db.transaction()");
        if (gate.busy) {
          throw new StoreError(
            "transient",
            `db.transaction() needs the write lock of "${storeId}" at once (its callback cannot wait), but a lockstep transaction holds it; nothing was written. Retry, or run the work in a lockstep transaction.`,
          );
        }
        return through(() => transaction.call(this, work, config));
      },
    },
    [GUARDED_KEY]: { value: true },
  });
}

/**
 * A queued write's promise. Awaiting it works as usual; reading it as the synchronous result it
 * stands in for throws, because the write has not run yet.
 */
function queued(promise: Promise<unknown>, storeId: string): Promise<unknown> {
  return new Proxy(promise, {
    get(target, property) {
      if (property === "then" || property === "catch" || property === "finally") {
        const method = target[property] as (...args: unknown[]) => unknown;
        return method.bind(target);
      }
      if (property === Symbol.toStringTag) return "Promise";
      throw new StoreError(
        "unknown",
        `This write through the Drizzle database is queued behind a lockstep transaction on "${storeId}" and has not run yet, so it has no result to read; await it instead.`,
      );
    },
  });
}
