import type { SagaLog } from "lockstep";

/** How many calls of each kind a log received. */
export interface LogCounts {
  /** `create`: one durable write (a commit of its own). */
  create: number;
  /** `write`: one durable write each. */
  write: number;
  /** `coCommit.create` and `coCommit.write`: records written inside a step's own transaction, which commits once for all. */
  coCommit: number;
  /** `acquireLease`, `renewLease`, `releaseLease`: lease writes outside the step records. */
  lease: number;
}

/**
 * Wraps a saga log and counts its calls, to report how many synchronous log writes a saga makes
 * without trusting the runner's own account of it. Everything is passed through unchanged.
 */
export function countingLog(log: SagaLog): { log: SagaLog; counts: LogCounts; reset(): void } {
  const counts: LogCounts = { create: 0, write: 0, coCommit: 0, lease: 0 };
  const coCommit = log.coCommit;
  const wrapped: SagaLog = {
    create: (record, entries) => {
      counts.create++;
      return log.create(record, entries);
    },
    write: (sagaId, token, change) => {
      counts.write++;
      return log.write(sagaId, token, change);
    },
    acquireLease: (...args) => {
      counts.lease++;
      return log.acquireLease(...args);
    },
    renewLease: (...args) => {
      counts.lease++;
      return log.renewLease(...args);
    },
    releaseLease: (...args) => {
      counts.lease++;
      return log.releaseLease(...args);
    },
    load: (sagaId) => log.load(sagaId),
    claimRecoverable: (...args) => log.claimRecoverable(...args),
    quarantine: (...args) => log.quarantine(...args),
    list: (filter) => log.list(filter),
    prune: (before) => log.prune(before),
    ...(coCommit === undefined
      ? {}
      : {
          coCommit: {
            storeId: coCommit.storeId,
            create: (tx, record, entries) => {
              counts.coCommit++;
              return coCommit.create(tx, record, entries);
            },
            write: (tx, sagaId, token, change) => {
              counts.coCommit++;
              return coCommit.write(tx, sagaId, token, change);
            },
          },
        }),
  };
  return {
    log: wrapped,
    counts,
    reset: () => {
      counts.create = 0;
      counts.write = 0;
      counts.coCommit = 0;
      counts.lease = 0;
    },
  };
}
