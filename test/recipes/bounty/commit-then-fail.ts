import type { StepStore } from "../../../src/index.js";

/** A transactional store whose `post` faults land the commit first, and how to raise one. */
export interface CommitThenFail<S> {
  /** The store to build ports on: the same store, its transactions wrapped. */
  readonly store: S;
  /**
   * A world's `post` fault: a call made through a transaction handle of this store fails once that
   * transaction has committed; a call through any other handle (a root, or a handle a store scoped
   * to one step call) fails at once.
   */
  readonly postFault: (handle: unknown, error: unknown) => Promise<void>;
}

/**
 * Wraps a transactional store so that a `post` fault raised inside one of its transactions lets the
 * transaction commit and then fails it: "the commit landed, then the caller saw an error". A
 * transaction that rolls back drops the fault, since the fault is about a commit that happened.
 *
 * `roots` are the root handles of every store the world writes to: a call through one of them is
 * not inside a transaction, so its `post` fault is thrown directly after the call. So is the fault
 * of a call through any handle no transaction of this store handed out: a store that scopes a
 * handle to each step call (`handleFor`) gives a step a handle that is none of the roots.
 */
export function commitThenFail<H, S extends StepStore<H>>(
  raw: S,
  roots: readonly unknown[],
): CommitThenFail<S> {
  const transaction = raw.transaction;
  if (transaction === undefined) {
    throw new Error(`commitThenFail needs a transactional store; "${raw.id}" has no transactions.`);
  }
  let afterCommit: { readonly error: unknown } | undefined;
  const transactionHandles = new WeakSet<object>();
  const store: S = {
    ...raw,
    transaction: async <T>(
      work: (tx: H) => Promise<T>,
      scope: Parameters<typeof transaction>[1],
    ) => {
      let result: T;
      try {
        result = await transaction((tx) => {
          if (typeof tx === "object" && tx !== null) transactionHandles.add(tx);
          return work(tx);
        }, scope);
      } catch (error) {
        afterCommit = undefined;
        throw error;
      }
      const pending = afterCommit;
      afterCommit = undefined;
      if (pending !== undefined) throw pending.error;
      return result;
    },
  };
  return {
    store,
    postFault: async (handle, error) => {
      const inTransaction =
        typeof handle === "object" && handle !== null && transactionHandles.has(handle);
      if (roots.includes(handle) || handle === raw.handle || !inTransaction) throw error;
      afterCommit = { error };
    },
  };
}
